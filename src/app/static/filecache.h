/* Open-file cache for the static handler: a file that was opened, checked
 * and stat'ed is reused for FILECACHE_VALID_US (its descriptor, metadata and
 * validators), like nginx's open_file_cache.  Opening, stat'ing and closing a
 * small file cost a third of a request's CPU.  A file replaced meanwhile is
 * served in its old version until the entry expires (at most a second). */
#ifndef H3G_STATIC_FILECACHE_H
#define H3G_STATIC_FILECACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "app/static/cond.h"

#define H3G_FILECACHE_VALID_US 1000000
#define H3G_FILECACHE_MAX 1024
/* Files this small are kept in memory too (at most 16 MiB in all). */
#define H3G_FILECACHE_DATA_MAX 16384

struct h3g_file {
    int fd;
    struct stat sb;
    char etag[H3G_ETAG_MAX];
    char last_modified[H3G_HTTP_DATE_LEN + 2];
    uint8_t *data; /* the contents of a small file, or NULL */
    /* cache bookkeeping */
    unsigned refs;
    int cached; /* still in the table (else freed at refs == 0) */
    uint64_t expires_us;
    char *key;
    struct h3g_file *hnext, *lprev, *lnext;
};

struct h3g_filecache {
    struct h3g_file **buckets;
    size_t nbuckets, count;
    struct h3g_file *lru_head, *lru_tail; /* most recent first */
};

int h3g_filecache_init(struct h3g_filecache *fc);
void h3g_filecache_free(struct h3g_filecache *fc);
/* A fresh entry for key with a reference taken, or NULL. */
struct h3g_file *h3g_filecache_get(struct h3g_filecache *fc, const char *key);
/* Caches fd (a regular file; the cache owns it from now on) under key and
 * returns the entry with a reference taken; NULL (fd closed) without memory. */
struct h3g_file *h3g_filecache_put(struct h3g_filecache *fc, const char *key, int fd,
                                   const struct stat *sb);
/* Drops a reference (a response body is done with the file). */
void h3g_file_release(void *file);

#endif
