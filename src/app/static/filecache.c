#include "app/static/filecache.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static size_t hash(const char *s, size_t nbuckets)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 0x100000001b3ULL;
    }
    return (size_t)(h & (nbuckets - 1));
}

int h3g_filecache_init(struct h3g_filecache *fc)
{
    memset(fc, 0, sizeof(*fc));
    fc->nbuckets = 2 * H3G_FILECACHE_MAX;
    fc->buckets = calloc(fc->nbuckets, sizeof(*fc->buckets));
    return fc->buckets != NULL ? 0 : H3G_ENOMEM;
}

static void file_destroy(struct h3g_file *f)
{
    close(f->fd);
    free(f->data);
    free(f->key);
    free(f);
}

/* Out of the table and the LRU list; freed now or by its last reference. */
static void unlink_file(struct h3g_filecache *fc, struct h3g_file *f)
{
    struct h3g_file **pp = &fc->buckets[hash(f->key, fc->nbuckets)];
    while (*pp != f)
        pp = &(*pp)->hnext;
    *pp = f->hnext;
    if (f->lprev != NULL)
        f->lprev->lnext = f->lnext;
    else
        fc->lru_head = f->lnext;
    if (f->lnext != NULL)
        f->lnext->lprev = f->lprev;
    else
        fc->lru_tail = f->lprev;
    fc->count--;
    f->cached = 0;
    if (f->refs == 0)
        file_destroy(f);
}

void h3g_filecache_free(struct h3g_filecache *fc)
{
    while (fc->lru_head != NULL)
        unlink_file(fc, fc->lru_head);
    free(fc->buckets);
    fc->buckets = NULL;
}

static void touch(struct h3g_filecache *fc, struct h3g_file *f)
{
    if (fc->lru_head == f)
        return;
    f->lprev->lnext = f->lnext;
    if (f->lnext != NULL)
        f->lnext->lprev = f->lprev;
    else
        fc->lru_tail = f->lprev;
    f->lprev = NULL;
    f->lnext = fc->lru_head;
    fc->lru_head->lprev = f;
    fc->lru_head = f;
}

struct h3g_file *h3g_filecache_get(struct h3g_filecache *fc, const char *key)
{
    struct h3g_file *f = fc->buckets[hash(key, fc->nbuckets)];
    while (f != NULL && strcmp(f->key, key) != 0)
        f = f->hnext;
    if (f == NULL)
        return NULL;
    if (h3g_now_us() >= f->expires_us) {
        unlink_file(fc, f);
        return NULL;
    }
    touch(fc, f);
    f->refs++;
    return f;
}

struct h3g_file *h3g_filecache_put(struct h3g_filecache *fc, const char *key, int fd,
                                   const struct stat *sb)
{
    struct h3g_file *f = calloc(1, sizeof(*f));
    size_t b;
    if (f == NULL || (f->key = strdup(key)) == NULL) {
        free(f);
        close(fd);
        return NULL;
    }
    f->fd = fd;
    f->sb = *sb;
    h3g_etag_make(f->etag, sizeof(f->etag), (uint64_t)sb->st_ino, (uint64_t)sb->st_size,
                  (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec);
    h3g_http_date_format(sb->st_mtim.tv_sec, f->last_modified, sizeof(f->last_modified));
    f->expires_us = h3g_now_us() + H3G_FILECACHE_VALID_US;
    if (sb->st_size > 0 && sb->st_size <= H3G_FILECACHE_DATA_MAX) {
        /* One read now instead of one per response; without it, the file. */
        size_t n = (size_t)sb->st_size;
        f->data = malloc(n);
        if (f->data != NULL && pread(fd, f->data, n, 0) != (ssize_t)n) {
            free(f->data);
            f->data = NULL;
        }
    }
    f->refs = 1;
    f->cached = 1;
    /* A stale entry for the same key goes first. */
    struct h3g_file *old = fc->buckets[hash(key, fc->nbuckets)];
    while (old != NULL && strcmp(old->key, key) != 0)
        old = old->hnext;
    if (old != NULL)
        unlink_file(fc, old);
    while (fc->count >= H3G_FILECACHE_MAX && fc->lru_tail != NULL)
        unlink_file(fc, fc->lru_tail);
    b = hash(key, fc->nbuckets);
    f->hnext = fc->buckets[b];
    fc->buckets[b] = f;
    f->lnext = fc->lru_head;
    if (fc->lru_head != NULL)
        fc->lru_head->lprev = f;
    fc->lru_head = f;
    if (fc->lru_tail == NULL)
        fc->lru_tail = f;
    fc->count++;
    return f;
}

void h3g_file_release(void *file)
{
    struct h3g_file *f = file;
    if (--f->refs == 0 && !f->cached)
        file_destroy(f);
}
