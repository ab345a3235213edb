/* qlog_dir: one JSON-SEQ file per connection, written by ngtcp2's qlog
 * callback, named like OpenSSL's (ODCID_server.sqlog) so both engines' files
 * sit side by side. */
#include <stdio.h>

#include "obs/log.h"
#include "quic/ngtcp2/ng.h"

void ng_qlog_write(void *user_data, uint32_t flags, const void *data, size_t len)
{
    struct ngconn *c = user_data;
    if (c->qlog == NULL)
        return;
    if (len > 0 && fwrite(data, 1, len, c->qlog) != len) {
        h3g_warn("qlog of %s: write failed; no more of it", c->peer);
        ng_qlog_close(c);
        return;
    }
    if (flags & NGTCP2_QLOG_WRITE_FLAG_FIN)
        ng_qlog_close(c);
}

int ng_qlog_open(struct ngconn *c, const ngtcp2_cid *odcid)
{
    char path[sizeof(c->eng->cfg.qlog_dir) + 2 * NGTCP2_MAX_CIDLEN + 16];
    int n = snprintf(path, sizeof(path), "%s/", c->eng->cfg.qlog_dir);
    for (size_t i = 0; i < odcid->datalen && n > 0 && (size_t)n < sizeof(path); i++)
        n += snprintf(path + n, sizeof(path) - (size_t)n, "%02x", odcid->data[i]);
    snprintf(path + n, sizeof(path) - (size_t)n, "_server.sqlog");
    c->qlog = fopen(path, "we");
    if (c->qlog == NULL) {
        h3g_warn("qlog_dir: cannot create %s: %m", path);
        return -1;
    }
    return 0;
}

void ng_qlog_close(struct ngconn *c)
{
    if (c->qlog != NULL)
        fclose(c->qlog);
    c->qlog = NULL;
}
