/* Connection IDs of the ngtcp2 engine and the table that maps them to
 * connections.
 *
 * Format (docs/architecture.md), H3G_CID_LEN = 16 bytes:
 *   byte 0       bits 7-6: format version (0); bits 5-0: random
 *   bytes 1-2    server id (big endian): which server of a cluster
 *   byte 3       worker id: which worker process or thread of that server
 *   bytes 4-15   random
 * A QUIC-LB style load balancer or an eBPF SO_REUSEPORT program can route a
 * datagram by bytes 1-3 without any state.  They are plain, as in QUIC-LB's
 * unencrypted mode: they say which server holds the connection, nothing more. */
#ifndef H3G_QUIC_NGTCP2_CID_H
#define H3G_QUIC_NGTCP2_CID_H

#include <stddef.h>
#include <stdint.h>

#include <ngtcp2/ngtcp2.h>

#define H3G_CID_LEN 16

struct h3g_cid_id {
    uint16_t server_id;
    uint8_t worker_id;
};

/* Fills cid (H3G_CID_LEN bytes) for server/worker; 0, or -1 when the random
 * generator failed. */
int h3g_cid_make(ngtcp2_cid *cid, const struct h3g_cid_id *id);
/* Reads the ids back (0), or -1 when the CID is not in h3gate's format. */
int h3g_cid_parse(const uint8_t *data, size_t len, struct h3g_cid_id *id);

struct h3g_cid_entry;
struct h3g_cid_map {
    struct h3g_cid_entry **buckets;
    size_t nbuckets, count;
    uint64_t key[2]; /* hash key: clients choose their first DCID */
};

int h3g_cid_map_init(struct h3g_cid_map *m);
void h3g_cid_map_free(struct h3g_cid_map *m);
/* Maps cid to value (replacing an existing mapping). */
int h3g_cid_map_put(struct h3g_cid_map *m, const uint8_t *cid, size_t len, void *value);
void *h3g_cid_map_get(const struct h3g_cid_map *m, const uint8_t *cid, size_t len);
void h3g_cid_map_del(struct h3g_cid_map *m, const uint8_t *cid, size_t len);

#endif
