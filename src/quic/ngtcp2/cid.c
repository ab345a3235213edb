#include "quic/ngtcp2/cid.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "common.h"

struct h3g_cid_entry {
    struct h3g_cid_entry *next;
    void *value;
    uint8_t len;
    uint8_t data[NGTCP2_MAX_CIDLEN];
};

int h3g_cid_make(ngtcp2_cid *cid, const struct h3g_cid_id *id)
{
    if (RAND_bytes(cid->data, H3G_CID_LEN) != 1)
        return -1;
    cid->data[0] &= 0x3f; /* format version 0 */
    cid->data[1] = (uint8_t)(id->server_id >> 8);
    cid->data[2] = (uint8_t)id->server_id;
    cid->data[3] = id->worker_id;
    cid->datalen = H3G_CID_LEN;
    return 0;
}

int h3g_cid_parse(const uint8_t *data, size_t len, struct h3g_cid_id *id)
{
    if (len != H3G_CID_LEN || (data[0] >> 6) != 0)
        return -1;
    id->server_id = (uint16_t)(data[1] << 8 | data[2]);
    id->worker_id = data[3];
    return 0;
}

/* A keyed multiply-xorshift hash: not a MAC, but a client cannot aim its chosen
 * DCIDs at one bucket without knowing the per-process key. */
static size_t cid_hash(const struct h3g_cid_map *m, const uint8_t *p, size_t len)
{
    uint64_t h = m->key[0] ^ (len * 0x9e3779b97f4a7c15ULL);
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
        h ^= h >> 29;
    }
    h ^= m->key[1];
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 31;
    return (size_t)(h & (m->nbuckets - 1));
}

int h3g_cid_map_init(struct h3g_cid_map *m)
{
    memset(m, 0, sizeof(*m));
    m->nbuckets = 256;
    m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
    if (m->buckets == NULL || RAND_bytes((unsigned char *)m->key, sizeof(m->key)) != 1) {
        free(m->buckets);
        m->buckets = NULL;
        return H3G_ERR;
    }
    return 0;
}

void h3g_cid_map_free(struct h3g_cid_map *m)
{
    for (size_t i = 0; m->buckets != NULL && i < m->nbuckets; i++) {
        while (m->buckets[i] != NULL) {
            struct h3g_cid_entry *e = m->buckets[i];
            m->buckets[i] = e->next;
            free(e);
        }
    }
    free(m->buckets);
    m->buckets = NULL;
    m->count = 0;
}

/* Doubles the table once it holds more entries than buckets. */
static void grow(struct h3g_cid_map *m)
{
    size_t n = m->nbuckets * 2, old = m->nbuckets;
    struct h3g_cid_entry **b = calloc(n, sizeof(*b)), **ob = m->buckets;
    if (b == NULL)
        return; /* longer chains, still correct */
    m->buckets = b;
    m->nbuckets = n;
    for (size_t i = 0; i < old; i++) {
        while (ob[i] != NULL) {
            struct h3g_cid_entry *e = ob[i];
            size_t h = cid_hash(m, e->data, e->len);
            ob[i] = e->next;
            e->next = b[h];
            b[h] = e;
        }
    }
    free(ob);
}

int h3g_cid_map_put(struct h3g_cid_map *m, const uint8_t *cid, size_t len, void *value)
{
    struct h3g_cid_entry *e;
    size_t h;
    if (len > NGTCP2_MAX_CIDLEN)
        return H3G_EINVAL;
    h = cid_hash(m, cid, len);
    for (e = m->buckets[h]; e != NULL; e = e->next)
        if (e->len == len && memcmp(e->data, cid, len) == 0) {
            e->value = value;
            return 0;
        }
    e = malloc(sizeof(*e));
    if (e == NULL)
        return H3G_ENOMEM;
    e->len = (uint8_t)len;
    memcpy(e->data, cid, len);
    e->value = value;
    e->next = m->buckets[h];
    m->buckets[h] = e;
    if (++m->count > m->nbuckets)
        grow(m);
    return 0;
}

void *h3g_cid_map_get(const struct h3g_cid_map *m, const uint8_t *cid, size_t len)
{
    if (len > NGTCP2_MAX_CIDLEN)
        return NULL;
    for (struct h3g_cid_entry *e = m->buckets[cid_hash(m, cid, len)]; e != NULL; e = e->next)
        if (e->len == len && memcmp(e->data, cid, len) == 0)
            return e->value;
    return NULL;
}

void h3g_cid_map_del(struct h3g_cid_map *m, const uint8_t *cid, size_t len)
{
    if (len > NGTCP2_MAX_CIDLEN)
        return;
    for (struct h3g_cid_entry **pp = &m->buckets[cid_hash(m, cid, len)]; *pp != NULL;
         pp = &(*pp)->next) {
        struct h3g_cid_entry *e = *pp;
        if (e->len == len && memcmp(e->data, cid, len) == 0) {
            *pp = e->next;
            free(e);
            m->count--;
            return;
        }
    }
}
