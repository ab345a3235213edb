/* The QUIC engine on ngtcp2 with TLS from libngtcp2_crypto_ossl (OpenSSL's QUIC
 * TLS API).  h3gate owns the sockets: datagrams are read in batches, matched
 * to connections by connection ID, and new clients go through version
 * negotiation, address validation (Retry, NEW_TOKEN) and the connection limit
 * here; unknown short-header packets get a stateless reset.  Each loop pass
 * services the connections that have work (conn.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "common.h"
#include "obs/log.h"
#include "quic/ngtcp2/ng.h"
#include "tls/mem.h"
#include "tls/tls.h"

/* Datagrams read from one socket per pass before the others get a turn. */
#define READS_PER_PASS 64
#define RETRY_TOKEN_TIMEOUT (10 * NGTCP2_SECONDS)
#define REGULAR_TOKEN_TIMEOUT (24 * 3600 * NGTCP2_SECONDS)
/* Stateless resets: a bucket of 100, refilled at 100 per second. */
#define RESET_BURST 100

static struct ngengine *eng_of(h3g_engine *he)
{
    return (struct ngengine *)he;
}

static struct ngconn *conn_of(h3g_qconn *hq)
{
    return (struct ngconn *)hq;
}

static void send_raw(struct nglistener *l, const struct h3g_udp_dgram *d, const uint8_t *buf,
                     ngtcp2_ssize n)
{
    if (n <= 0)
        return;
    if (h3g_udp_send(&l->sock, (const struct sockaddr *)&d->local,
                     (const struct sockaddr *)&d->remote, d->remotelen, 0, buf, (size_t)n, 0) > 0) {
        l->eng->n.send_calls++;
        l->eng->n.packets_out++;
    }
}

static void send_version_negotiation(struct nglistener *l, const struct h3g_udp_dgram *d,
                                     const ngtcp2_version_cid *vc)
{
    uint8_t buf[1200], r;
    uint32_t grease = 0;
    /* A random reserved version too (RFC 9000 §15), so that clients cannot ossify;
     * never the client's own, which would make it drop the packet (§6.2). */
    if (RAND_bytes(&r, 1) != 1 || RAND_bytes((unsigned char *)&grease, sizeof(grease)) != 1)
        r = 0, grease = 0;
    grease = (grease & 0xf0f0f0f0U) | 0x0a0a0a0aU;
    if (grease == vc->version)
        grease ^= 0x10000000U;
    uint32_t sv[] = {NGTCP2_PROTO_VER_V1, grease};
    l->eng->n.version_negotiations++;
    send_raw(l, d, buf,
             ngtcp2_pkt_write_version_negotiation(buf, sizeof(buf), r, vc->scid, vc->scidlen,
                                                  vc->dcid, vc->dcidlen, sv, H3G_ARRAY_LEN(sv)));
}

static void send_retry(struct nglistener *l, const struct h3g_udp_dgram *d, const ngtcp2_pkt_hd *hd,
                       size_t pktlen)
{
    struct ngengine *eng = l->eng;
    uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN2], buf[1200];
    ngtcp2_cid scid;
    ngtcp2_ssize tl;
    if (h3g_cid_make(&scid, &eng->id) != 0)
        return;
    tl = ngtcp2_crypto_generate_retry_token2(token, eng->secret, sizeof(eng->secret), hd->version,
                                             (const ngtcp2_sockaddr *)&d->remote, d->remotelen,
                                             &scid, &hd->dcid, ng_wall_ns());
    if (tl < 0)
        return;
    eng->n.retries++;
    /* Never more than three times what the client sent (RFC 9000 §8.1). */
    send_raw(l, d, buf,
             ngtcp2_crypto_write_retry(buf, H3G_MIN(sizeof(buf), 3 * pktlen), hd->version,
                                       &hd->scid, &scid, &hd->dcid, token, (size_t)tl));
}

/* Whether a refusal to this client address is due: one a second.  A client
 * told CONNECTION_REFUSED may try again at once (curl does, for its whole
 * connect timeout: 30,000 refusals in 12 s); the tries in between are
 * dropped, so it waits for its probe timeout and the loop costs little. */
static int refusal_due(struct ngengine *eng, const struct sockaddr_storage *ss)
{
    const uint8_t *ip = ss->ss_family == AF_INET6
                            ? ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr
                            : (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
    size_t n = ss->ss_family == AF_INET6 ? 16 : 4;
    uint64_t key = 1469598103934665603ull, now = h3g_now_ms();
    for (size_t i = 0; i < n; i++)
        key = (key ^ ip[i]) * 1099511628211ull; /* FNV-1a */
    struct ng_refusal *r = &eng->refusals[key % H3G_ARRAY_LEN(eng->refusals)];
    if (r->key == key && now - r->at_ms < 1000) {
        eng->n.refusals_unanswered++;
        return 0;
    }
    r->key = key;
    r->at_ms = now;
    return 1;
}

static void send_refusal(struct nglistener *l, const struct h3g_udp_dgram *d,
                         const ngtcp2_pkt_hd *hd, uint64_t code, const char *why)
{
    uint8_t buf[1200];
    if (!refusal_due(l->eng, &d->remote))
        return;
    send_raw(l, d, buf,
             ngtcp2_crypto_write_connection_close(buf, sizeof(buf), hd->version, &hd->scid,
                                                  &hd->dcid, code, (const uint8_t *)why,
                                                  strlen(why)));
}

static void send_stateless_reset(struct nglistener *l, const struct h3g_udp_dgram *d,
                                 const uint8_t *dcid, size_t dcidlen, size_t pktlen)
{
    struct ngengine *eng = l->eng;
    uint64_t now = h3g_now_us();
    ngtcp2_cid cid;
    ngtcp2_stateless_reset_token token;
    uint8_t rnd[32], buf[64];
    size_t randlen;
    if (now >= eng->resets_refill_us) {
        eng->resets_tokens = RESET_BURST;
        eng->resets_refill_us = now + 1000000;
    }
    if (eng->resets_tokens == 0 || dcidlen > NGTCP2_MAX_CIDLEN)
        return;
    eng->resets_tokens--;
    ngtcp2_cid_init(&cid, dcid, dcidlen);
    if (ngtcp2_crypto_generate_stateless_reset_token(token.data, eng->secret, sizeof(eng->secret),
                                                     &cid) != 0)
        return;
    /* Shorter than what triggered it, so two servers cannot loop (RFC 9000 §10.3.3). */
    randlen = pktlen <= 43 ? pktlen - 16 - 1 : 26;
    if (randlen < NGTCP2_MIN_STATELESS_RESET_RANDLEN || RAND_bytes(rnd, (int)randlen) != 1)
        return;
    eng->n.stateless_resets++;
    send_raw(l, d, buf, ngtcp2_pkt_write_stateless_reset2(buf, sizeof(buf), &token, rnd, randlen));
}

/* Address validation: 1 and *odcid/token_type set when the client may go on,
 * 0 when it was answered (Retry or refusal). */
static int validate(struct nglistener *l, const struct h3g_udp_dgram *d, ngtcp2_pkt_hd *hd,
                    size_t pktlen, ngtcp2_cid *odcid, int *have_odcid, int *token_type)
{
    struct ngengine *eng = l->eng;
    /* auto: Retry costs honest clients a round trip, so only under pressure
     * (HAProxy's tune.quic.retry-threshold). */
    int must =
        eng->cfg.address_validation == H3G_AV_ON || (eng->cfg.address_validation == H3G_AV_AUTO &&
                                                     eng->nhandshakes >= eng->cfg.retry_threshold);
    *have_odcid = 0;
    *token_type = NGTCP2_TOKEN_TYPE_UNKNOWN;
    if (hd->tokenlen == 0) {
        if (must) {
            send_retry(l, d, hd, pktlen);
            return 0;
        }
        return 1;
    }
    if (hd->token[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY2) {
        int rv = ngtcp2_crypto_verify_retry_token2(
            odcid, hd->token, hd->tokenlen, eng->secret, sizeof(eng->secret), hd->version,
            (const ngtcp2_sockaddr *)&d->remote, d->remotelen, &hd->dcid, RETRY_TOKEN_TIMEOUT,
            ng_wall_ns());
        if (rv == 0) {
            *have_odcid = 1;
            *token_type = NGTCP2_TOKEN_TYPE_RETRY;
            return 1;
        }
        /* A Retry token must be good (RFC 9000 §8.1.2). */
        eng->n.bad_tokens++;
        send_refusal(l, d, hd, NGTCP2_INVALID_TOKEN, "invalid token");
        return 0;
    }
    if (hd->token[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_REGULAR &&
        ngtcp2_crypto_verify_regular_token(hd->token, hd->tokenlen, eng->secret,
                                           sizeof(eng->secret), (const ngtcp2_sockaddr *)&d->remote,
                                           d->remotelen, REGULAR_TOKEN_TIMEOUT,
                                           ng_wall_ns()) == 0) {
        *token_type = NGTCP2_TOKEN_TYPE_NEW_TOKEN;
        return 1;
    }
    /* An old or foreign NEW_TOKEN: as if there were none. */
    eng->n.bad_tokens++;
    hd->token = NULL;
    hd->tokenlen = 0;
    if (must) {
        send_retry(l, d, hd, pktlen);
        return 0;
    }
    return 1;
}

static void accept_conn(struct nglistener *l, const struct h3g_udp_dgram *d, const uint8_t *pkt,
                        size_t len)
{
    struct ngengine *eng = l->eng;
    ngtcp2_pkt_hd hd;
    ngtcp2_cid odcid;
    int have_odcid, token_type;
    struct ngconn *c;
    if (ngtcp2_accept(&hd, pkt, len) != 0)
        return; /* not an Initial (a stray 0-RTT or handshake packet): dropped */
    if (!eng->accepting || l->slot.retired) {
        send_refusal(l, d, &hd, NGTCP2_CONNECTION_REFUSED, "shutting down");
        return;
    }
    if (eng->cfg.max_connections > 0 && eng->nconns >= eng->cfg.max_connections) {
        if (eng->n.refused++ % 1000 == 0) {
            char peer[64];
            inet_ntop(d->remote.ss_family,
                      d->remote.ss_family == AF_INET6
                          ? (const void *)&((const struct sockaddr_in6 *)&d->remote)->sin6_addr
                          : (const void *)&((const struct sockaddr_in *)&d->remote)->sin_addr,
                      peer, sizeof(peer));
            h3g_warn("refusing connection from %s: %zu connections open (limit %zu)", peer,
                     eng->nconns, eng->cfg.max_connections);
        }
        /* The client gives up at once instead of timing out (CONNECTION_REFUSED). */
        send_refusal(l, d, &hd, NGTCP2_CONNECTION_REFUSED, "too many connections");
        return;
    }
    if (!validate(l, d, &hd, len, &odcid, &have_odcid, &token_type))
        return;
    if (h3g_tls_mem_over()) {
        /* What OpenSSL holds for the connections there are is the budget. */
        if (eng->n.refused++ % 1000 == 0)
            h3g_warn("refusing new clients: OpenSSL holds %zu bytes (limit openssl_memory)",
                     h3g_tls_mem_used());
        send_refusal(l, d, &hd, NGTCP2_CONNECTION_REFUSED, "out of memory budget");
        return;
    }
    if (eng->cfg.max_handshakes > 0 && eng->nhandshakes >= eng->cfg.max_handshakes) {
        /* Handshakes in progress are what a flood from real addresses costs
         * (memory, CPU): capped, and the excess told at once. */
        if (eng->n.refused_handshakes++ % 1000 == 0)
            h3g_warn("refusing new clients: %zu handshakes in progress (limit %zu)",
                     eng->nhandshakes, eng->cfg.max_handshakes);
        send_refusal(l, d, &hd, NGTCP2_CONNECTION_REFUSED, "too many handshakes");
        return;
    }
    c = ng_conn_new(eng, l, &hd, have_odcid ? &odcid : NULL, token_type, d);
    if (c == NULL) {
        h3g_warn("cannot create a QUIC connection (out of memory?)");
        return;
    }
    l->slot.nconns++;
    if (ng_conn_read(c, d, pkt, len) == 0)
        ng_conn_mark(c);
}

static void on_packet(struct nglistener *l, const struct h3g_udp_dgram *d, const uint8_t *pkt,
                      size_t len)
{
    struct ngengine *eng = l->eng;
    ngtcp2_version_cid vc;
    struct ngconn *c;
    int rv = ngtcp2_pkt_decode_version_cid(&vc, pkt, len, H3G_CID_LEN);
    eng->n.packets_in++;
    if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) {
        send_version_negotiation(l, d, &vc);
        return;
    }
    if (rv != 0)
        return;
    c = h3g_cid_map_get(&eng->cids, vc.dcid, vc.dcidlen);
    if (c != NULL) {
        ng_conn_read(c, d, pkt, len);
        return;
    }
    if (pkt[0] & 0x80)
        accept_conn(l, d, pkt, len);
    else if (len >= H3G_CID_LEN + 22) /* a connection we no longer (or never) had */
        send_stateless_reset(l, d, vc.dcid, vc.dcidlen, len);
}

static void on_readable(h3g_io *io, int revents, void *arg)
{
    struct nglistener *l = arg;
    struct ngengine *eng = l->eng;
    (void)io;
    (void)revents;
    for (int got = 0; got < READS_PER_PASS;) {
        int n = h3g_udp_recv(&l->sock, &eng->rx);
        if (n <= 0)
            break;
        eng->n.recv_calls++;
        got += n;
        for (int i = 0; i < n; i++) {
            const struct h3g_udp_dgram *d = &eng->rx.d[i];
            /* A GRO batch holds several datagrams of d->seg bytes. */
            for (size_t off = 0; off < d->len; off += d->seg) {
                eng->n.dgrams_in++;
                on_packet(l, d, d->data + off, H3G_MIN(d->seg, d->len - off));
            }
        }
    }
}

/* ---- the pass ---- */

static void listener_free(struct ngengine *eng, struct nglistener *l)
{
    h3g_io_stop(eng->loop, &l->io);
    h3g_udp_close(&l->sock);
    free(l);
}

/* Retired listeners whose connections are all gone. */
static void sweep_listeners(struct ngengine *eng)
{
    for (struct nglistener **pp = &eng->listeners; *pp != NULL;) {
        struct nglistener *l = *pp;
        if (h3g_listen_slot_gone(&l->slot)) {
            *pp = l->next;
            listener_free(eng, l);
        } else {
            pp = &l->next;
        }
    }
}

static int64_t ng_prepare(void *arg)
{
    struct ngengine *eng = arg;
    struct ngconn *list = eng->dirty, *again = NULL;
    int more = 0;
    sweep_listeners(eng);
    eng->dirty = NULL;
    while (list != NULL) {
        struct ngconn *c = list;
        list = c->dnext;
        c->in_dirty = 0;
        c->dnext = NULL;
        if (ng_conn_service(c) > 0) {
            more = 1;
            /* Unless its service marked it again (it is on eng->dirty then). */
            if (!c->in_dirty) {
                c->in_dirty = 1;
                c->dnext = again;
                again = c;
            }
        }
    }
    /* Connections that still had output, and ones marked meanwhile. */
    while (again != NULL) {
        struct ngconn *c = again;
        again = c->dnext;
        c->dnext = eng->dirty;
        eng->dirty = c;
    }
    return more || eng->dirty != NULL ? 0 : -1;
}

/* ---- the ops ---- */

static h3g_engine *ng_create(h3g_loop *loop, struct h3g_tls *tls,
                             const struct h3g_engine_config *cfg,
                             const struct h3g_engine_callbacks *cbs, void *arg)
{
    struct ngengine *eng = calloc(1, sizeof(*eng));
    if (eng == NULL)
        return NULL;
    eng->base.ops = &h3g_engine_ngtcp2;
    eng->loop = loop;
    eng->tls = tls;
    eng->ctx = h3g_tls_quic_tls_ctx(tls);
    eng->cfg = *cfg;
    eng->cbs = *cbs;
    eng->arg = arg;
    eng->accepting = 1;
    eng->id.server_id = cfg->server_id;
    eng->id.worker_id = cfg->worker_id;
    if (cfg->host_key != NULL && cfg->host_key_len >= NG_SECRET_LEN)
        memcpy(eng->secret, cfg->host_key, NG_SECRET_LEN);
    else if (h3g_tls_derive_secret(tls, "h3gate quic host key", eng->secret, sizeof(eng->secret)) !=
                 0 &&
             RAND_bytes(eng->secret, sizeof(eng->secret)) != 1)
        goto fail;
    if (ngtcp2_crypto_ossl_init() != 0 || h3g_cid_map_init(&eng->cids) != 0 ||
        h3g_udp_rx_init(&eng->rx) != 0)
        goto fail;
    ng_tls_setup(eng->ctx);
    h3g_loop_add_prepare(loop, &eng->prepare, ng_prepare, eng);
    return &eng->base;
fail:
    h3g_cid_map_free(&eng->cids);
    h3g_udp_rx_free(&eng->rx);
    free(eng);
    return NULL;
}

static void ng_stats(const h3g_engine *he, char *buf, size_t len)
{
    const struct ngengine *eng = (const struct ngengine *)he;
    const struct ng_counters *n = &eng->n;
    snprintf(buf, len,
             "packets_out=%llu send_calls=%llu packets_per_send=%.2f packets_in=%llu "
             "datagrams_in=%llu recv_calls=%llu send_blocked=%llu handshakes=%llu resumed=%llu "
             "retries=%llu "
             "version_negotiations=%llu stateless_resets=%llu refused=%llu refused_handshakes=%llu "
             "bad_tokens=%llu "
             "migrations=%llu early_streams=%llu refusals_unanswered=%llu",
             (unsigned long long)n->packets_out, (unsigned long long)n->send_calls,
             n->send_calls ? (double)n->packets_out / (double)n->send_calls : 0.0,
             (unsigned long long)n->packets_in, (unsigned long long)n->dgrams_in,
             (unsigned long long)n->recv_calls, (unsigned long long)n->send_blocked,
             (unsigned long long)n->handshakes, (unsigned long long)n->resumed,
             (unsigned long long)n->retries, (unsigned long long)n->version_negotiations,
             (unsigned long long)n->stateless_resets, (unsigned long long)n->refused,
             (unsigned long long)n->refused_handshakes, (unsigned long long)n->bad_tokens,
             (unsigned long long)n->migrations, (unsigned long long)n->early_streams,
             (unsigned long long)n->refusals_unanswered);
}

static void ng_counters(const h3g_engine *he, struct h3g_engine_counters *out)
{
    const struct ngengine *eng = (const struct ngengine *)he;
    const struct ng_counters *n = &eng->n;
    uint64_t lost = n->lost_closed;
    for (const struct ngconn *c = eng->conns; c != NULL; c = c->next) {
        ngtcp2_conn_info info;
        if (c->conn == NULL)
            continue;
        ngtcp2_conn_get_conn_info2(c->conn, &info);
        lost += info.pkt_lost;
    }
    *out = (struct h3g_engine_counters){
        .packets_lost = lost,
        .full = 1,
        .refused = n->refused,
        .dgrams_in = n->dgrams_in,
        .packets_in = n->packets_in,
        .recv_calls = n->recv_calls,
        .packets_out = n->packets_out,
        .send_calls = n->send_calls,
        .send_blocked = n->send_blocked,
        .retries = n->retries,
        .version_negotiations = n->version_negotiations,
        .stateless_resets = n->stateless_resets,
        .refused_handshakes = n->refused_handshakes,
        .bad_tokens = n->bad_tokens,
        .handshakes = n->handshakes,
        .resumed = n->resumed,
        .migrations = n->migrations,
        .early_streams = n->early_streams,
    };
}

static void ng_destroy(h3g_engine *he)
{
    struct ngengine *eng = eng_of(he);
    while (eng->conns != NULL)
        ng_conn_free(eng->conns);
    while (eng->listeners != NULL) {
        struct nglistener *l = eng->listeners;
        eng->listeners = l->next;
        listener_free(eng, l);
    }
    h3g_loop_remove_prepare(eng->loop, &eng->prepare);
    h3g_cid_map_free(&eng->cids);
    h3g_udp_rx_free(&eng->rx);
    OPENSSL_cleanse(eng->secret, sizeof(eng->secret));
    free(eng);
}

/* A reload names an address already served: its sockets stay. */
static int keep_listening(struct ngengine *eng, const struct sockaddr *sa, socklen_t salen)
{
    int found = 0;
    for (struct nglistener *l = eng->listeners; l != NULL; l = l->next)
        found |= h3g_listen_slot_keep(&l->slot, sa, salen);
    return found;
}

static void ng_listen_begin(h3g_engine *he)
{
    for (struct nglistener *l = eng_of(he)->listeners; l != NULL; l = l->next)
        l->slot.named = 0;
}

static void ng_listen_end(h3g_engine *he)
{
    for (struct nglistener *l = eng_of(he)->listeners; l != NULL; l = l->next)
        h3g_listen_slot_retire_unnamed(&l->slot);
}

static void ng_configure(h3g_engine *he, const struct h3g_engine_config *cfg)
{
    struct ngengine *eng = eng_of(he);
    struct h3g_engine_config keep = eng->cfg;
    eng->cfg = *cfg;
    /* fixed when the sockets and the token secret were made */
    eng->cfg.listeners_per_address = keep.listeners_per_address;
    eng->cfg.host_key = keep.host_key;
    eng->cfg.host_key_len = keep.host_key_len;
    eng->cfg.server_id = keep.server_id;
    eng->cfg.worker_id = keep.worker_id;
    eng->cfg.shared_port = keep.shared_port;
    eng->cfg.socket_bound = keep.socket_bound;
    eng->cfg.socket_bound_arg = keep.socket_bound_arg;
}

static int ng_listen(h3g_engine *he, const struct sockaddr *sa, socklen_t salen, char *err,
                     size_t errlen)
{
    struct ngengine *eng = eng_of(he);
    unsigned n = eng->cfg.listeners_per_address > 0 ? eng->cfg.listeners_per_address : 1;
    char where[80];
    h3g_sockaddr_format(sa, where, sizeof(where));
    if (salen > sizeof(struct sockaddr_storage)) {
        snprintf(err, errlen, "bad address %s", where);
        return H3G_ERR;
    }
    if (keep_listening(eng, sa, salen))
        return 0;
    int share = n > 1 || eng->cfg.shared_port;
    if (share && !eng->cfg.shared_port && h3g_udp_probe(sa, salen, where, err, errlen) != 0)
        return H3G_ERR;
    for (unsigned i = 0; i < n; i++) {
        struct nglistener *l = calloc(1, sizeof(*l));
        if (l == NULL) {
            snprintf(err, errlen, "out of memory");
            return H3G_ENOMEM;
        }
        l->eng = eng;
        h3g_listen_slot_init(&l->slot, sa, salen);
        int flags = H3G_UDP_QUIC | (share ? H3G_UDP_REUSEPORT : 0);
        if (h3g_udp_open(&l->sock, sa, salen, flags, where, err, errlen) != 0) {
            free(l);
            return H3G_ERR;
        }
        if (i == 0 && eng->cfg.socket_bound != NULL)
            eng->cfg.socket_bound(eng->cfg.socket_bound_arg, sa, salen, l->sock.fd);
        if (h3g_io_start(eng->loop, &l->io, l->sock.fd, H3G_IO_READ, on_readable, l) != 0) {
            snprintf(err, errlen, "cannot watch the socket for %s", where);
            h3g_udp_close(&l->sock);
            free(l);
            return H3G_ERR;
        }
        l->next = eng->listeners;
        eng->listeners = l;
    }
    h3g_info("listening on %s (QUIC on ngtcp2, HTTP/3; UDP GSO %s, GRO %s)", where,
             eng->listeners->sock.gso ? "on" : "off", eng->listeners->sock.gro ? "on" : "off");
    return 0;
}

static void ng_stop_accepting(h3g_engine *he)
{
    eng_of(he)->accepting = 0;
}

static size_t ng_conn_count(const h3g_engine *he)
{
    return ((const struct ngengine *)he)->nconns;
}

static void ng_foreach_conn(h3g_engine *he, void (*fn)(h3g_qconn *qc, void *conn_arg, void *arg),
                            void *arg)
{
    struct ngengine *eng = eng_of(he);
    struct ngconn *c, *next;
    for (c = eng->conns; c != NULL; c = next) {
        next = c->next;
        if (c->state != NC_CLOSING && c->state != NC_DRAINING && !c->close_requested)
            fn(&c->base, c->uarg, arg);
    }
}

static int ng_open_uni(h3g_qconn *hq, int64_t *sid)
{
    struct ngconn *c = conn_of(hq);
    struct ngstream *s;
    int rv = ngtcp2_conn_open_uni_stream(c->conn, sid, NULL);
    if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED)
        return H3G_ELIMIT;
    if (rv != 0) {
        h3g_err("%s: ngtcp2 could not open a unidirectional stream: %s", c->peer,
                ngtcp2_strerror(rv));
        return H3G_ERR;
    }
    s = ng_stream_add(c, *sid);
    if (s == NULL)
        return H3G_ENOMEM;
    s->uni = s->local = 1;
    s->read_done = 1;
    return 0;
}

static int ng_write(h3g_qconn *hq, int64_t sid, const h3g_iovec *vec, size_t n, int fin,
                    size_t *written)
{
    struct ngconn *c = conn_of(hq);
    struct ngstream *s = ng_stream_find(c, sid);
    int rv;
    *written = 0;
    if (s == NULL || c->state == NC_CLOSING || c->state == NC_DRAINING)
        return H3G_ECLOSED;
    rv = ng_stream_enqueue(c, s, vec, n, fin, written);
    ng_conn_mark(c);
    return rv == H3G_ENOMEM ? H3G_ECLOSED : rv;
}

static int ng_reset(h3g_qconn *hq, int64_t sid, uint64_t app_code)
{
    struct ngconn *c = conn_of(hq);
    struct ngstream *s = ng_stream_find(c, sid);
    if (s == NULL)
        return H3G_ENOTFOUND;
    ng_stream_drop_queue(c, s);
    s->read_done = 1;
    free(s->rbuf);
    s->rbuf = NULL;
    s->rlen = s->rcap = 0;
    s->rpending = 0;
    if (c->state != NC_CLOSING && c->state != NC_DRAINING)
        ngtcp2_conn_shutdown_stream(c->conn, 0, sid, app_code);
    ng_conn_mark(c);
    return 0;
}

static void ng_stop_reading(h3g_qconn *hq, int64_t sid, uint64_t app_code)
{
    struct ngconn *c = conn_of(hq);
    struct ngstream *s = ng_stream_find(c, sid);
    if (s == NULL || s->read_done)
        return;
    s->read_done = 1;
    /* What was held for it is dropped: its credit goes back. */
    if (s->rlen > 0) {
        ngtcp2_conn_extend_max_stream_offset(c->conn, sid, s->rlen);
        ngtcp2_conn_extend_max_offset(c->conn, s->rlen);
    }
    free(s->rbuf);
    s->rbuf = NULL;
    s->rlen = s->rcap = 0;
    s->rpending = 0;
    if (c->state != NC_CLOSING && c->state != NC_DRAINING)
        ngtcp2_conn_shutdown_stream_read(c->conn, 0, sid, app_code);
    ng_conn_mark(c);
}

static void ng_pause_read(h3g_qconn *hq, int64_t sid, int paused)
{
    struct ngconn *c = conn_of(hq);
    struct ngstream *s = ng_stream_find(c, sid);
    if (s == NULL)
        return;
    s->paused = paused != 0;
    if (!paused && s->rpending) {
        c->pending = 1;
        ng_conn_mark(c);
    }
}

static void ng_consume(h3g_qconn *hq, int64_t sid, size_t n)
{
    struct ngconn *c = conn_of(hq);
    if (n == 0 || c->state == NC_CLOSING || c->state == NC_DRAINING)
        return;
    ngtcp2_conn_extend_max_stream_offset(c->conn, sid, n);
    ngtcp2_conn_extend_max_offset(c->conn, n);
    ng_conn_mark(c);
}

static void ng_close(h3g_qconn *hq, uint64_t app_code, const char *reason)
{
    ng_conn_close(conn_of(hq), app_code, reason, 0);
}

static void ng_close_after(h3g_qconn *hq, uint64_t delay_ms, uint64_t app_code, const char *reason)
{
    struct ngconn *c = conn_of(hq);
    uint64_t at = h3g_now_us() + delay_ms * 1000;
    if (c->close_requested || c->state == NC_CLOSING || c->state == NC_DRAINING)
        return;
    if (c->deadline_us == 0 || at < c->deadline_us) {
        c->deadline_us = at;
        c->deadline_code = app_code;
        snprintf(c->deadline_reason, sizeof(c->deadline_reason), "%s", reason ? reason : "");
    }
    ng_conn_mark(c);
}

static void ng_abort(h3g_qconn *hq, uint64_t app_code, const char *reason)
{
    ng_conn_close(conn_of(hq), app_code, reason, 1);
}

static void ng_wake(h3g_qconn *hq)
{
    struct ngconn *c = conn_of(hq);
    c->wake = 1;
    c->pending = 1;
    ng_conn_mark(c);
}

static uint64_t ng_peer_bidi_limit(h3g_qconn *hq)
{
    return conn_of(hq)->bidi_limit;
}

static const char *ng_peer(const h3g_qconn *hq)
{
    return ((const struct ngconn *)hq)->peer;
}

static const char *ng_server_name(const h3g_qconn *hq)
{
    return SSL_get_servername(((const struct ngconn *)hq)->ssl, TLSEXT_NAMETYPE_host_name);
}

static int ng_stream_early(h3g_qconn *hq, int64_t sid)
{
    struct ngstream *s = ng_stream_find(conn_of(hq), sid);
    return s != NULL && s->early;
}

const struct h3g_engine_ops h3g_engine_ngtcp2 = {
    .name = "ngtcp2",
    .caps = H3G_ENGINE_CAP_EXPLICIT_CREDIT | H3G_ENGINE_CAP_STOP_SENDING_CODE |
            H3G_ENGINE_CAP_EARLY_DATA,
    .create = ng_create,
    .destroy = ng_destroy,
    .listen = ng_listen,
    .stop_accepting = ng_stop_accepting,
    .configure = ng_configure,
    .listen_begin = ng_listen_begin,
    .listen_end = ng_listen_end,
    .conn_count = ng_conn_count,
    .foreach_conn = ng_foreach_conn,
    .stats = ng_stats,
    .counters = ng_counters,
    .open_uni = ng_open_uni,
    .write = ng_write,
    .reset = ng_reset,
    .stop_reading = ng_stop_reading,
    .pause_read = ng_pause_read,
    .consume = ng_consume,
    .close = ng_close,
    .close_after = ng_close_after,
    .abort = ng_abort,
    .wake = ng_wake,
    .peer_bidi_limit = ng_peer_bidi_limit,
    .peer = ng_peer,
    .server_name = ng_server_name,
    .stream_early = ng_stream_early,
};
