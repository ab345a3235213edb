#include <stdlib.h>

#include "common.h"
#include "config/conf_parse.h"
#include "config/config.h"
#include "http/router.h"
#include "testutil.h"

static int load(struct h3g_config *c, const char *text, char *err)
{
    h3g_config_free(c);
    h3g_config_defaults(c);
    return h3g_config_load_text(c, text, strlen(text), "t.conf", err, 256);
}

static void expect_error(const char *text, const char *needle)
{
    struct h3g_config c;
    char err[256] = "";
    memset(&c, 0, sizeof(c));
    int rc = load(&c, text, err);
    if (rc == H3G_CONFIG_OK || strstr(err, needle) == NULL)
        fprintf(stderr, "  config %s -> rc %d err '%s' (want '%s')\n", text, rc, err, needle);
    CHECK(rc == H3G_CONFIG_ERROR && strstr(err, needle) != NULL);
    h3g_config_free(&c);
}

static int dummy(void *ctx, const struct h3g_request *req, struct h3g_response *resp,
                 h3g_exchange *ex)
{
    (void)ctx, (void)req, (void)resp, (void)ex;
    return 0;
}

int main(void)
{
    struct h3g_config c;
    char err[256];
    uint64_t v;
    int b;
    memset(&c, 0, sizeof(c));

    /* values */
    CHECK(h3g_conf_duration_ms("30s", &v) == 0 && v == 30000);
    CHECK(h3g_conf_duration_ms("30", &v) == 0 && v == 30000);
    CHECK(h3g_conf_duration_ms("250ms", &v) == 0 && v == 250);
    CHECK(h3g_conf_duration_ms("2m", &v) == 0 && v == 120000);
    CHECK(h3g_conf_duration_ms("1h", &v) == 0 && v == 3600000);
    CHECK(h3g_conf_duration_ms("1d", &v) != 0);
    CHECK(h3g_conf_duration_ms("-1s", &v) != 0);
    CHECK(h3g_conf_duration_ms("99999999999999999999s", &v) != 0);
    CHECK(h3g_conf_size("64k", &v) == 0 && v == 65536);
    CHECK(h3g_conf_size("10M", &v) == 0 && v == 10485760);
    CHECK(h3g_conf_size("1g", &v) == 0 && v == 1073741824);
    CHECK(h3g_conf_size("12", &v) == 0 && v == 12);
    CHECK(h3g_conf_size("12kb", &v) != 0);
    CHECK(h3g_conf_bool("on", &b) == 0 && b == 1);
    CHECK(h3g_conf_bool("off", &b) == 0 && b == 0);
    CHECK(h3g_conf_bool("maybe", &b) != 0);

    /* a full file */
    const char *full =
        "# h3gate\n"
        "listen 127.0.0.1:8443;\n"
        "listen [::1]:8443;\n"
        "idle_timeout 10s;\n"
        "drain_timeout 2m;\n"
        "access_log \"/var/log/h3 gate.log\";\n"
        "log_level debug;\n"
        "address_validation off;\n"
        "listen_sockets 2;\n"
        "unknown_sni reject;\n"
        "certificate {\n"
        "    cert a.pem; key a.key;\n"
        "    names a.example *.a.example;\n"
        "}\n"
        "certificate { cert b.pem; key b.key; default; }\n"
        "limits { request_header_size 32k; request_header_fields 50; connections 500;\n"
        "         requests_per_connection 20000; }\n"
        "route { host static.example; path /assets/; root /srv/assets; }\n"
        "root /srv/www;\n";
    CHECK(load(&c, full, err) == H3G_CONFIG_OK);
    CHECK(c.nlisten == 2);
    CHECK(c.idle_timeout_ms == 10000 && c.drain_timeout_ms == 120000);
    CHECK_STR(c.access_log, "/var/log/h3 gate.log");
    CHECK_STR(c.log_level, "debug");
    CHECK(c.address_validation == 0 && c.sni_reject_unknown == 1 && c.listen_sockets == 2);
    CHECK(c.ncerts == 2 && c.certs[0].nnames == 2 && c.certs[1].is_default);
    CHECK_STR(c.certs[0].names[1], "*.a.example");
    CHECK(c.certs[0].line == 11 && c.certs[1].line == 15);
    CHECK(c.max_field_section_size == 32768 && c.max_header_fields == 50);
    CHECK(c.max_connections == 500 && c.max_requests == 20000);
    CHECK(c.nroutes == 1 && c.routes[0].nhosts == 1);
    CHECK_STR(c.routes[0].path_prefix, "/assets/");
    CHECK_STR(c.root, "/srv/www");
    h3g_config_free(&c);

    /* the abuse bounds (issue 12) */
    const char *abuse =
        "request_header_timeout 3s;\naddress_validation auto;\n"
        "limits { qpack_blocked_streams 8; send_buffer_per_connection 2m;\n"
        "         send_buffer_per_worker 64m; handshakes 50; retry_threshold 5; }\n";
    CHECK(load(&c, abuse, err) == H3G_CONFIG_OK);
    CHECK(c.header_timeout_ms == 3000 && c.address_validation == H3G_CONFIG_AV_AUTO);
    CHECK(c.qpack_blocked_streams == 8 && c.send_budget_conn == 2u << 20);
    CHECK(c.send_budget_worker == 64u << 20 && c.max_handshakes == 50 && c.retry_threshold == 5);
    h3g_config_free(&c);

    /* HTTPS over TCP (issue 10) */
    const char *tcp = "listen 127.0.0.1:443;\nlisten 127.0.0.1:8443 tcp;\nlisten [::1]:443 quic;\n"
                      "tls_min 1.3;\nalt_svc \"h3=\\\":443\\\"\";\nkeepalive_timeout 5s;\n"
                      "redirect_http 127.0.0.1:80;\nacme_challenge_root /srv/acme;\n"
                      "limits { tcp_connections 20; tls_handshakes 7; }\n";
    CHECK(load(&c, tcp, err) == H3G_CONFIG_OK);
    CHECK(c.nlisten == 3 && c.listen[0].quic && c.listen[0].tcp);
    CHECK(!c.listen[1].quic && c.listen[1].tcp && c.listen[2].quic && !c.listen[2].tcp);
    CHECK(c.tls_min_13 && c.alt_svc == H3G_ALT_SVC_VALUE && c.keepalive_timeout_ms == 5000);
    CHECK_STR(c.alt_svc_value, "h3=\":443\"");
    CHECK(c.nredirect == 1 && c.max_tcp_connections == 20 && c.max_tls_handshakes == 7);
    CHECK_STR(c.acme_challenge_root, "/srv/acme");
    h3g_config_free(&c);
    CHECK(load(&c, "alt_svc off;\n", err) == H3G_CONFIG_OK && c.alt_svc == H3G_ALT_SVC_OFF);
    h3g_config_free(&c);
    expect_error("listen 127.0.0.1:443 udp;\n", "'udp': expected quic or tcp");
    expect_error("tls_min 1.1;\n", "'1.1': expected 1.2 or 1.3");
    expect_error("redirect_http 127.0.0.1:80;\nredirect_http 127.0.0.1:80;\n", "given twice");
    expect_error("limits { tcp_connections 0; }\n", "tcp_connections");
    {
        char *argv[] = {"h3gate",         "--root",          "/srv",           "--listen",
                        "127.0.0.1:8080", "--redirect-http", "127.0.0.1:8080", NULL};
        h3g_config_defaults(&c);
        CHECK(h3g_config_parse_args(&c, 7, argv, err, sizeof(err)) == H3G_CONFIG_ERROR);
        CHECK(strstr(err, "is also a listen address") != NULL);
        char *argv2[] = {
            "h3gate", "--root", "/srv", "--no-tcp", "--tls-min", "1.3", "--keepalive-timeout",
            "2",      NULL};
        h3g_config_defaults(&c);
        CHECK(h3g_config_parse_args(&c, 8, argv2, err, sizeof(err)) == H3G_CONFIG_OK);
        CHECK(c.no_tcp && c.tls_min_13 && c.keepalive_timeout_ms == 2000);
        h3g_config_free(&c);
    }

    /* errors carry file and line */
    expect_error("listen 127.0.0.1:1;\nbogus 1;\n", "t.conf:2: bogus: unknown directive");
    expect_error("listen 127.0.0.1;\n",
                 "t.conf:1: listen: --listen '127.0.0.1': expected ADDR:PORT");
    expect_error("root /a\n", "t.conf:1: 'root' is missing its ';'");
    expect_error("route {\n root /a;\n", "t.conf:3: missing '}' for the block opened at line 1");
    expect_error("}\n", "t.conf:1: unexpected '}'");
    expect_error("access_log \"unterminated;\n", "t.conf:1: unterminated string");
    expect_error("\n\nidle_timeout 45s;\n",
                 "t.conf:3: idle_timeout: '45s' is not a duration up to 30s");
    expect_error("idle_timeout;\n", "t.conf:1: idle_timeout: expects 1 value, got 0");
    expect_error("certificate { cert a.pem; }\n",
                 "t.conf:1: certificate: needs both 'cert' and 'key'");
    expect_error(
        "certificate { cert a; key b; default; }\ncertificate { cert c; key d; default; }\n",
        "t.conf:2: certificate: a default certificate is already set at line 1");
    expect_error("certificate { cert a; key b; names Upper.example; }\n",
                 "names: 'Upper.example' is not a lowercase host name");
    expect_error("certificate { cert a; key b; names *.*.x; }\n", "is not a lowercase host name");
    expect_error("route { path assets; root /a; }\n",
                 "t.conf:1: path: 'assets' must start with '/'");
    expect_error("route { host a.example; }\n", "t.conf:1: route: needs a 'root'");
    expect_error("route foo { root /a; }\n", "route: takes no values before its block");
    expect_error("root { }\n", "t.conf:1: root: takes no block");
    expect_error("unknown_sni maybe;\n", "'maybe': expected default or reject");
    expect_error("limits { request_header_size 10; }\n", "is not a size (like 64k, 10m) from 1024");
    expect_error("limits { connections 1k; }\n", "is not a whole number");
    expect_error("limits { requests_per_connection -5; }\n", "is not a whole number");
    expect_error("listen_sockets 100;\n", "listen_sockets");
    expect_error("log_level chatty;\n", "expected error, warn, info or debug");
    expect_error("address_validation sometimes;\n", "expected auto, on or off");
    expect_error("listen 127.0.0.1:4433;\nlisten 127.0.0.1:4433;\n", "already listened on");
    expect_error("limits { qpack_blocked_streams 65; }\n", "qpack_blocked_streams");
    expect_error("request_header_timeout forever;\n", "not a duration");
    expect_error(
        "a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5 6 7 8 9 10 11 12 "
        "13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41;\n",
        "too many arguments");
    /* field names in any case, sent lowercase */
    h3g_config_defaults(&c);
    CHECK(load(&c,
               "route { path /; root /srv; add_header X-Frame-Options DENY; "
               "remove_header Server; }\n",
               err) == H3G_CONFIG_OK);
    CHECK(c.nroutes == 1 && c.routes[0].headers.nadd == 1 && c.routes[0].headers.nremove == 1);
    CHECK_STR(c.routes[0].headers.add_name[0], "x-frame-options");
    CHECK_STR(c.routes[0].headers.remove[0], "server");
    h3g_config_free(&c);
    expect_error("route { path /; root /srv; add_header \"x y\" 1; }\n", "is not a field name");
    /* the new directives */
    h3g_config_defaults(&c);
    CHECK(load(&c,
               "workers 3;\nadmin 127.0.0.1:9145;\nerror_log /var/log/e.log;\n"
               "pid_file /run/h.pid;\nuser www-data adm;\nkeylog /tmp/k;\nqlog_dir /tmp;\n"
               "root /srv;\n",
               err) == H3G_CONFIG_OK);
    CHECK(c.workers == 3 && c.has_admin && h3g_config_workers(&c) == 3);
    CHECK_STR(c.error_log, "/var/log/e.log");
    CHECK_STR(c.pid_file, "/run/h.pid");
    CHECK_STR(c.user, "www-data");
    CHECK_STR(c.group, "adm");
    CHECK_STR(c.keylog, "/tmp/k");
    CHECK_STR(c.qlog_dir, "/tmp");
    h3g_config_free(&c);
    expect_error("workers 0;\n", "expected auto or a number from 1 to 64");
    expect_error("workers 65;\n", "expected auto or a number from 1 to 64");
    expect_error("admin nowhere;\n", "admin");
    {
        char nul[] = "root /a;\0root /b;\n";
        h3g_config_defaults(&c);
        CHECK(h3g_config_load_text(&c, nul, sizeof(nul) - 1, "t.conf", err, 256) ==
              H3G_CONFIG_ERROR);
        CHECK(strstr(err, "NUL byte") != NULL);
        h3g_config_free(&c);
    }
    /* the command line overrides the file */
    {
        char f[] = "/tmp/h3g-test-conf-XXXXXX";
        int fd = mkstemp(f);
        FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
        CHECK(fp != NULL);
        if (fp == NULL)
            return TEST_RESULT();
        fputs("listen 127.0.0.1:9000;\nroot /srv;\nidle_timeout 5s;\n", fp);
        fclose(fp);
        char *argv[] = {"h3gate", "--idle-timeout", "7", "-c", f, NULL};
        h3g_config_defaults(&c);
        CHECK(h3g_config_parse_args(&c, 5, argv, err, sizeof(err)) == H3G_CONFIG_OK);
        CHECK(c.idle_timeout_ms == 7000 && c.nlisten == 1);
        CHECK_STR(c.root, "/srv");
        h3g_config_free(&c);
        char *argv2[] = {"h3gate", "-c", "/nonexistent/h3.conf", NULL};
        h3g_config_defaults(&c);
        CHECK(h3g_config_parse_args(&c, 3, argv2, err, sizeof(err)) == H3G_CONFIG_ERROR);
        CHECK(strstr(err, "cannot read config file /nonexistent/h3.conf") != NULL);
        h3g_config_free(&c);
        remove(f);
    }

    /* router: exact host > wildcard > any, then the longest prefix */
    h3g_router *r = h3g_router_new();
    const char *exact[] = {"www.example"}, *wild[] = {"*.example"};
    CHECK(h3g_router_add(r, NULL, 0, "/", dummy, NULL, NULL) == 0);        /* 0 */
    CHECK(h3g_router_add(r, NULL, 0, "/static/", dummy, NULL, NULL) == 0); /* 1 */
    CHECK(h3g_router_add(r, wild, 1, "/", dummy, NULL, NULL) == 0);        /* 2 */
    CHECK(h3g_router_add(r, exact, 1, "/", dummy, NULL, NULL) == 0);       /* 3 */
    CHECK(h3g_router_add(r, exact, 1, "/api/", dummy, NULL, NULL) == 0);   /* 4 */
    CHECK(h3g_router_match(r, "other.test", "/x") == 0);
    CHECK(h3g_router_match(r, "other.test:443", "/static/a.css") == 1);
    CHECK(h3g_router_match(r, "img.example", "/a") == 2);
    CHECK(h3g_router_match(r, "IMG.Example.", "/a") == 2);
    CHECK(h3g_router_match(r, "www.example:8443", "/a") == 3);
    CHECK(h3g_router_match(r, "www.example", "/api/v1") == 4);
    CHECK(h3g_router_match(r, "example", "/") == 0); /* *.example needs a label */
    CHECK(h3g_router_match(r, NULL, "/") == 0);
    CHECK(h3g_router_add(r, NULL, 0, "relative", dummy, NULL, NULL) == H3G_EINVAL);
    h3g_router_free(r);
    return TEST_RESULT();
}
