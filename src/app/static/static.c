#include "app/static/static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "app/static/cond.h"
#include "app/static/filecache.h"
#include "app/static/mime.h"
#include "app/static/path.h"
#include "app/static/range.h"
#include "common.h"
#include "obs/log.h"

#define INDEX_FILE "index.html"

struct h3g_static {
    int rootfd;
    char rootreal[PATH_MAX];
    int have_openat2;
    struct h3g_filecache files;
};

h3g_static *h3g_static_new(const char *root, char *err, size_t errlen)
{
    struct stat sb;
    h3g_static *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->rootfd < 0) {
        snprintf(err, errlen, "document root %s: %s", root, strerror(errno));
        free(st);
        return NULL;
    }
    if (fstat(st->rootfd, &sb) != 0 || !S_ISDIR(sb.st_mode) ||
        realpath(root, st->rootreal) == NULL) {
        snprintf(err, errlen, "document root %s is not a usable directory", root);
        h3g_static_free(st);
        return NULL;
    }
    st->have_openat2 = 1;
    if (h3g_filecache_init(&st->files) != 0) {
        snprintf(err, errlen, "out of memory");
        h3g_static_free(st);
        return NULL;
    }
    return st;
}

void h3g_static_free(h3g_static *st)
{
    if (st == NULL)
        return;
    if (st->rootfd >= 0)
        close(st->rootfd);
    h3g_filecache_free(&st->files);
    free(st);
}

/* Opens rel (no leading '/') strictly inside the root: symlinks may point
 * anywhere inside it, never outside (EXDEV).  Kernel-enforced with openat2
 * RESOLVE_BENEATH; older kernels get an equivalent check on the resolved path. */
static int open_beneath(h3g_static *st, const char *rel)
{
    int fd;
    if (st->have_openat2) {
        struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
                               .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
        fd = (int)syscall(SYS_openat2, st->rootfd, rel, &how, sizeof(how));
        if (fd >= 0 || errno != ENOSYS)
            return fd;
        st->have_openat2 = 0;
    }
    fd = openat(st->rootfd, rel, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd >= 0) {
        char link[64], real[PATH_MAX];
        size_t rl = strlen(st->rootreal);
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, real, sizeof(real) - 1);
        if (n < 0 || (size_t)n < rl || memcmp(real, st->rootreal, rl) != 0 ||
            (real[rl] != '/' && (size_t)n != rl)) {
            close(fd);
            errno = EXDEV;
            return -1;
        }
    }
    return fd;
}

static int errno_status(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR: return 404;
    case EACCES:
    case EPERM:
    case EXDEV:
    case ELOOP: return 403;
    case ENAMETOOLONG: return 414;
    default: return 500;
    }
}

static int add_common(struct h3g_response *resp)
{
    /* Formatted once a second per thread. */
    static _Thread_local char date[H3G_HTTP_DATE_LEN + 2];
    static _Thread_local time_t date_at = -1;
    time_t now = time(NULL);
    if (now != date_at) {
        h3g_http_date_format(now, date, sizeof(date));
        date_at = now;
    }
    if (h3g_response_add(resp, "server", "h3gate") != 0 ||
        h3g_response_add(resp, "date", date) != 0)
        return H3G_ENOMEM;
    return 0;
}

static int finish_error(struct h3g_response *resp, int status)
{
    if (add_common(resp) != 0)
        return H3G_ENOMEM;
    return h3g_response_error(resp, status);
}

static int redirect_dir(const struct h3g_request *req, struct h3g_response *resp)
{
    const char *q = strchr(req->path, '?');
    size_t plen = q ? (size_t)(q - req->path) : strlen(req->path);
    char *loc = malloc(plen + 2 + (q ? strlen(q) : 0));
    int rc;
    if (loc == NULL)
        return H3G_ENOMEM;
    memcpy(loc, req->path, plen);
    loc[plen] = '/';
    strcpy(loc + plen + 1, q ? q : "");
    rc = finish_error(resp, 301);
    if (rc == 0)
        rc = h3g_response_add(resp, "location", loc);
    free(loc);
    return rc;
}

/* Opens the file for a request (the index file for a directory) and caches it:
 * *out gets the entry, or stays NULL with resp holding the error response (the
 * return value is then h3g_static_handle's). */
static int open_file(h3g_static *st, const struct h3g_request *req, struct h3g_response *resp,
                     const char *path, int trailing, char *rel, size_t rellen,
                     struct h3g_file **out)
{
    struct stat sb;
    int fd = open_beneath(st, rel);
    if (fd < 0)
        return finish_error(resp, errno_status(errno));
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return finish_error(resp, 500);
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        if (!trailing)
            return redirect_dir(req, resp);
        snprintf(rel, rellen, "%s%s" INDEX_FILE, path[1] ? path + 1 : "", path[1] ? "/" : "");
        fd = open_beneath(st, rel);
        if (fd < 0)
            return finish_error(resp, errno == ENOENT ? 403 : errno_status(errno));
        if (fstat(fd, &sb) != 0) {
            close(fd);
            return finish_error(resp, 500);
        }
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return finish_error(resp, 403);
    }
    /* Reads from the event loop must not block on a regular file anyway. */
    fcntl(fd, F_SETFL, 0);
    *out = h3g_filecache_put(&st->files, rel, fd, &sb);
    return *out != NULL ? 0 : finish_error(resp, 500);
}

static const char *hdr(const struct h3g_request *req, const char *name, size_t *len)
{
    *len = 0;
    return h3g_request_header(req, name, len);
}

int h3g_static_handle(h3g_static *st, const struct h3g_request *req, struct h3g_response *resp)
{
    char path[4096], rel[4096 + sizeof(INDEX_FILE) + 2];
    const char *etag, *lm;
    struct h3g_file *f = NULL;
    int trailing = 0, rc, head;
    struct stat sb;
    struct h3g_cond_input ci;
    uint64_t first = 0, last = 0, size;
    enum h3g_range_result rr = H3G_RANGE_IGNORE;
    const char *range, *if_range;
    size_t range_len, if_range_len;

    head = strcmp(req->method, "HEAD") == 0;
    if (!head && strcmp(req->method, "GET") != 0) {
        rc = finish_error(resp, 405);
        return rc ? rc : h3g_response_add(resp, "allow", "GET, HEAD");
    }
    rc = h3g_path_normalize(req->path, path, sizeof(path), &trailing);
    if (rc == H3G_ELIMIT)
        return finish_error(resp, 414);
    if (rc != 0)
        return finish_error(resp, 400);

    snprintf(rel, sizeof(rel), "%s", path[1] ? path + 1 : ".");
    f = h3g_filecache_get(&st->files, rel);
    if (f == NULL && trailing) {
        snprintf(rel, sizeof(rel), "%s%s" INDEX_FILE, path[1] ? path + 1 : "", path[1] ? "/" : "");
        f = h3g_filecache_get(&st->files, rel);
        if (f == NULL)
            snprintf(rel, sizeof(rel), "%s", path[1] ? path + 1 : ".");
    }
    if (f == NULL) {
        rc = open_file(st, req, resp, path, trailing, rel, sizeof(rel), &f);
        if (f == NULL)
            return rc;
    }
    sb = f->sb;
    size = (uint64_t)sb.st_size;
    etag = f->etag;
    lm = f->last_modified;
    memset(&ci, 0, sizeof(ci));
    ci.if_match = hdr(req, "if-match", &ci.if_match_len);
    ci.if_none_match = hdr(req, "if-none-match", &ci.if_none_match_len);
    ci.if_modified_since = hdr(req, "if-modified-since", &ci.if_modified_since_len);
    ci.if_unmodified_since = hdr(req, "if-unmodified-since", &ci.if_unmodified_since_len);
    ci.etag = etag;
    ci.mtime = sb.st_mtim.tv_sec;
    ci.get_or_head = 1;
    switch (h3g_cond_evaluate(&ci)) {
    case H3G_COND_NOT_MODIFIED:
        h3g_file_release(f);
        resp->status = 304;
        if (add_common(resp) != 0 || h3g_response_add(resp, "etag", etag) != 0 ||
            h3g_response_add(resp, "last-modified", lm) != 0)
            return H3G_ENOMEM;
        return 0;
    case H3G_COND_PRECONDITION_FAILED: h3g_file_release(f); return finish_error(resp, 412);
    case H3G_COND_PROCEED: break;
    }

    range = hdr(req, "range", &range_len);
    if_range = hdr(req, "if-range", &if_range_len);
    if (range != NULL && h3g_if_range_ok(if_range, if_range_len, etag, sb.st_mtim.tv_sec))
        rr = h3g_range_parse(range, range_len, size, &first, &last);
    if (rr == H3G_RANGE_UNSATISFIABLE) {
        h3g_file_release(f);
        rc = finish_error(resp, 416);
        return rc ? rc
                  : h3g_response_addf(resp, "content-range", "bytes */%llu",
                                      (unsigned long long)size);
    }

    resp->status = rr == H3G_RANGE_OK ? 206 : 200;
    if (rr != H3G_RANGE_OK) {
        first = 0;
        last = size ? size - 1 : 0;
    }
    uint64_t length = size ? last - first + 1 : 0;
    if (add_common(resp) != 0 || h3g_response_add(resp, "content-type", h3g_mime_type(rel)) != 0 ||
        h3g_response_addf(resp, "content-length", "%llu", (unsigned long long)length) != 0 ||
        h3g_response_add(resp, "last-modified", lm) != 0 ||
        h3g_response_add(resp, "etag", etag) != 0 ||
        h3g_response_add(resp, "accept-ranges", "bytes") != 0 ||
        (rr == H3G_RANGE_OK &&
         h3g_response_addf(resp, "content-range", "bytes %llu-%llu/%llu", (unsigned long long)first,
                           (unsigned long long)last, (unsigned long long)size) != 0)) {
        h3g_file_release(f);
        return H3G_ENOMEM;
    }
    if (head || length == 0) {
        h3g_file_release(f);
        return 0;
    }
    resp->body.kind = H3G_BODY_FILE;
    resp->body.fd = f->fd;
    resp->body.release = h3g_file_release;
    resp->body.file = f;
    resp->body.data = f->data;
    resp->body.offset = first;
    resp->body.remaining = length;
    return 0;
}
