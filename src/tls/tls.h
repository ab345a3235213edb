/* TLS context for QUIC: certificates chosen by SNI, ALPN, OpenSSL version checks. */
#ifndef H3G_TLS_TLS_H
#define H3G_TLS_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

typedef struct h3g_tls h3g_tls;

struct h3g_tls_cert_config {
    const char *cert_file; /* PEM: the certificate, then its chain */
    const char *key_file;
    const char *const *names; /* names it serves; NULL: its own DNS names */
    size_t nnames;
    int is_default;
};

struct h3g_tls_config {
    const struct h3g_tls_cert_config *certs; /* none: generate a self-signed one */
    size_t ncerts;
    int reject_unknown_sni;              /* refuse names no certificate serves */
    const char *const *ticket_key_files; /* 80-byte session ticket keys; first encrypts */
    size_t nticket_key_files;
    const char *selfsigned_name;
    int tcp_tls_min_13;    /* TLS over TCP: 1.3 only (else 1.2 and 1.3) */
    int several_processes; /* workers: a ticket from one is resumed by another */
};

/* Checks the OpenSSL the process runs on; writes an error and returns < 0 when
 * it cannot serve QUIC.  Warns about known-vulnerable versions. */
int h3g_tls_check_runtime(char *err, size_t errlen);
/* The decision behind it, for a given OPENSSL_VERSION_NUMBER built from Debian
 * source version debian (NULL: not known), against the table of known QUIC
 * server CVEs (cve.def): < 0 refuse, 1 warn (err holds the warning), 0 fine. */
int h3g_tls_check_version(unsigned long v, const char *debian, const char *text, char *err,
                          size_t errlen);
h3g_tls *h3g_tls_new(const struct h3g_tls_config *cfg, char *err, size_t errlen);
void h3g_tls_free(h3g_tls *tls);
/* A reload, in two steps: everything that can fail happens first, in fresh
 * (made by h3g_tls_new from the new configuration); h3g_tls_adopt then moves
 * its certificates, ticket keys and limits onto tls's contexts (listeners
 * keep those) for the next handshakes, and frees fresh.  Running
 * connections keep what they have. */
void h3g_tls_adopt(h3g_tls *tls, h3g_tls *fresh, const struct h3g_tls_config *cfg);
SSL_CTX *h3g_tls_ctx(h3g_tls *tls);
/* The same certificates, SNI selection and ALPN on a TLS_server_method context
 * limited to TLS 1.3, for QUIC stacks that use OpenSSL's QUIC TLS API. */
SSL_CTX *h3g_tls_quic_tls_ctx(h3g_tls *tls);
/* A secret derived (HKDF-SHA256) from the default certificate's private key and
 * label: stable across restarts while the key stays the same. */
/* The QUIC host key from a file of at least 32 bytes (like nginx's
 * quic_host_key): SHA-256 of its contents, so servers sharing the file issue
 * tokens and stateless resets the others accept. */
int h3g_tls_read_host_key(const char *path, uint8_t out[32], char *err, size_t errlen);
int h3g_tls_derive_secret(const h3g_tls *tls, const char *label, uint8_t *out, size_t outlen);
/* base64(sha256(SubjectPublicKeyInfo)) of the default certificate, for pinning
 * (Chromium's --ignore-certificate-errors-spki-list). */
const char *h3g_tls_spki_hash(const h3g_tls *tls);
/* TLS over TCP (TLS 1.2 and 1.3 unless tls_min 1.3): the same certificates,
 * SNI selection and ticket keys; ALPN h2 and http/1.1. */
SSL_CTX *h3g_tls_tcp_ctx(h3g_tls *tls);
const char *h3g_tls_openssl_version(void);
/* keylog: every handshake's secrets, NSS key log format, appended to path
 * (NULL: off).  0, or H3G_ERR with err set (the previous file stays). */
int h3g_tls_keylog(h3g_tls *tls, const char *path, char *err, size_t errlen);
/* Which certificate serves a name (sans-I/O part of the SNI callback): index
 * into the configured certificates, or -1 for none. */
int h3g_tls_select(const h3g_tls *tls, const char *servername);

#endif
