#include <netinet/in.h>

#include "common.h"
#include "config/config.h"
#include "config/settings.h"
#include "testutil.h"

static int parse(struct h3g_config *c, char *err, const char *a1, const char *a2, const char *a3,
                 const char *a4, const char *a5)
{
    char *argv[8] = {"h3gate"};
    int argc = 1;
    const char *a[] = {a1, a2, a3, a4, a5};
    for (int i = 0; i < 5 && a[i] != NULL; i++)
        argv[argc++] = (char *)a[i];
    h3g_config_defaults(c);
    return h3g_config_parse_args(c, argc, argv, err, 256);
}

/* The settings table: unique names, defaults inside their ranges, and what
 * the defaults put in a fresh configuration. */
static void check_settings_table(void)
{
    struct h3g_config c;
    char err[128];
    for (size_t i = 0; i < h3g_nsettings; i++) {
        const struct h3g_setting *l = &h3g_settings[i];
        CHECK(l->min <= l->def && l->def <= l->max);
        CHECK(h3g_setting_by_name(l->block, l->name) == l);
        CHECK(l->option == NULL || h3g_setting_by_option(l->option) == l);
        CHECK(l->width == sizeof(size_t) || l->width == sizeof(uint64_t));
    }
    h3g_config_defaults(&c);
    CHECK(c.max_connections == 10000 && c.max_requests == 1000 && c.max_handshakes == 1000);
    CHECK(c.max_openssl_memory == (size_t)1 << 30 && c.max_field_section_size == 65536);
    CHECK(c.idle_timeout_ms == 30000 && c.keepalive_timeout_ms == 60000 && c.listen_sockets == 4);
    const struct h3g_setting *hdr = h3g_setting_by_option("max-header-size");
    CHECK(hdr != NULL && h3g_setting_set(hdr, &c, "32k", err, sizeof(err)) == 0);
    CHECK(c.max_field_section_size == 32768);
    CHECK(h3g_setting_set(hdr, &c, "2m", err, sizeof(err)) != 0);
    CHECK_STR(err, "a size (like 64k, 10m) from 1024 to 1048576");
    const struct h3g_setting *hs = h3g_setting_by_name("limits", "handshakes");
    CHECK(hs != NULL && h3g_setting_set(hs, &c, "1k", err, sizeof(err)) != 0); /* a count */
    CHECK(h3g_setting_by_name("limits", "frobnicate") == NULL);
    CHECK(h3g_setting_by_name(NULL, "handshakes") == NULL); /* only in limits { } */
    const struct h3g_setting *idle = h3g_setting_by_option("idle-timeout");
    CHECK(idle != NULL && h3g_setting_set(idle, &c, "500ms", err, sizeof(err)) == 0);
    CHECK(c.idle_timeout_ms == 500);
    CHECK(h3g_setting_set(idle, &c, "2.5", err, sizeof(err)) == 0 && c.idle_timeout_ms == 2500);
    CHECK(h3g_setting_set(idle, &c, "31s", err, sizeof(err)) != 0);
    CHECK_STR(err, "a duration up to 30s (like 30s, 500ms, 2m)");
    h3g_config_free(&c);

    /* an upstream group's settings land in its own struct, with its defaults */
    struct h3g_upstream_conf u;
    h3g_upstream_conf_defaults(&u);
    CHECK(u.connect_timeout_ms == 5000 && u.header_timeout_ms == 60000 && u.max_idle == 32);
    CHECK(u.request_timeout_ms == 0 && u.max_connections == 0);
    const struct h3g_setting *ct = h3g_setting_by_name("upstream", "connect_timeout");
    CHECK(ct != NULL && h3g_setting_set(ct, &u, "250ms", err, sizeof(err)) == 0);
    CHECK(u.connect_timeout_ms == 250);
    CHECK(h3g_setting_set(ct, &u, "2h", err, sizeof(err)) != 0);
    CHECK_STR(err, "a duration up to 1h (like 30s, 500ms, 2m)");
    CHECK(h3g_setting_by_name("upstream", "idle_timeout") !=
          h3g_setting_by_name(NULL, "idle_timeout"));

    /* values as the file writes them */
    char v[32];
    h3g_setting_format(H3G_SET_SIZE, 65536, v, sizeof(v));
    CHECK_STR(v, "64k");
    h3g_setting_format(H3G_SET_SIZE, (uint64_t)1 << 40, v, sizeof(v));
    CHECK_STR(v, "1t");
    h3g_setting_format(H3G_SET_SIZE, 1500, v, sizeof(v));
    CHECK_STR(v, "1500");
    h3g_setting_format(H3G_SET_DURATION, 86400000, v, sizeof(v));
    CHECK_STR(v, "24h");
    h3g_setting_format(H3G_SET_DURATION, 60000, v, sizeof(v));
    CHECK_STR(v, "60s");
    h3g_setting_format(H3G_SET_DURATION, 2500, v, sizeof(v));
    CHECK_STR(v, "2500ms");
    h3g_setting_format(H3G_SET_COUNT, 0, v, sizeof(v));
    CHECK_STR(v, "0");
}

int main(void)
{
    check_settings_table();
    struct h3g_config c;
    char err[256];
    CHECK(parse(&c, err, "--root", "/srv", NULL, NULL, NULL) == H3G_CONFIG_OK);
    CHECK(c.nlisten == 1 && c.listen[0].ss.ss_family == AF_INET);
    CHECK(c.idle_timeout_ms == 30000);

    CHECK(parse(&c, err, "--root", "/srv", "--listen", "[::1]:8443", NULL) == H3G_CONFIG_OK);
    CHECK(c.nlisten == 1 && c.listen[0].ss.ss_family == AF_INET6);
    CHECK(ntohs(((struct sockaddr_in6 *)&c.listen[0].ss)->sin6_port) == 8443);

    CHECK(parse(&c, err, "--root", "/srv", "--idle-timeout", "2.5", NULL) == H3G_CONFIG_OK);
    CHECK(c.idle_timeout_ms == 2500);

    CHECK(parse(&c, err, "--listen", "127.0.0.1:1", NULL, NULL, NULL) == H3G_CONFIG_ERROR);
    CHECK(strstr(err, "--root") != NULL);
    CHECK(parse(&c, err, "--root", "/srv", "--listen", "127.0.0.1", NULL) == H3G_CONFIG_ERROR);
    CHECK(strstr(err, "ADDR:PORT") != NULL);
    CHECK(parse(&c, err, "--root", "/srv", "--listen", "127.0.0.1:99999", NULL) ==
          H3G_CONFIG_ERROR);
    CHECK(parse(&c, err, "--root", "/srv", "--listen", "::1:80", NULL) == H3G_CONFIG_ERROR);
    CHECK(parse(&c, err, "--root", "/srv", "--listen", "not-an-ip.invalid:80", NULL) ==
          H3G_CONFIG_ERROR);
    CHECK(parse(&c, err, "--root", "/srv", "--idle-timeout", "abc", NULL) == H3G_CONFIG_ERROR);
    CHECK(strstr(err, "--idle-timeout") != NULL);
    CHECK(parse(&c, err, "--root", "/srv", "--idle-timeout", "31", NULL) == H3G_CONFIG_ERROR);
    CHECK(parse(&c, err, "--root", "/srv", "--cert", "a.pem", NULL) == H3G_CONFIG_ERROR);
    CHECK(strstr(err, "--key") != NULL);
    CHECK(parse(&c, err, "--root", "/srv", "--log-level", "loud", NULL) == H3G_CONFIG_ERROR);
    CHECK(parse(&c, err, "--root", "/srv", "--bogus", NULL, NULL) == H3G_CONFIG_ERROR);
    CHECK(strstr(err, "--bogus") != NULL);
    CHECK(parse(&c, err, "--root", NULL, NULL, NULL, NULL) == H3G_CONFIG_ERROR);
    CHECK(strstr(err, "needs a value") != NULL);
    CHECK(parse(&c, err, "--root", "/srv", "extra", NULL, NULL) == H3G_CONFIG_ERROR);
    CHECK(parse(&c, err, "--version", NULL, NULL, NULL, NULL) == H3G_CONFIG_OK && c.show_version);
    CHECK(parse(&c, err, "--help", NULL, NULL, NULL, NULL) == H3G_CONFIG_OK && c.show_help);
    CHECK(parse(&c, err, "--root", "/srv", "--max-header-size", "10", NULL) == H3G_CONFIG_ERROR);
    CHECK(parse(&c, err, "--root", "/srv", NULL, NULL, NULL) == H3G_CONFIG_OK &&
          c.max_requests == 1000);
    CHECK(parse(&c, err, "--root", "/srv", "--max-requests", "0", NULL) == H3G_CONFIG_OK &&
          c.max_requests == 0);
    CHECK(parse(&c, err, "--root", "/srv", "--max-requests", "25", NULL) == H3G_CONFIG_OK &&
          c.max_requests == 25);
    CHECK(parse(&c, err, "--root", "/srv", "--max-requests", "-1", NULL) == H3G_CONFIG_ERROR);
    CHECK(strstr(err, "--max-requests") != NULL);
    CHECK(parse(&c, err, "--root", "/srv", NULL, NULL, NULL) == H3G_CONFIG_OK &&
          c.listen_sockets == 4);
    CHECK(parse(&c, err, "--root", "/srv", "--listen-sockets", "1", NULL) == H3G_CONFIG_OK &&
          c.listen_sockets == 1);
    CHECK(parse(&c, err, "--root", "/srv", "--listen-sockets", "0", NULL) == H3G_CONFIG_ERROR);
    CHECK(parse(&c, err, "--root", "/srv", "--listen-sockets", "65", NULL) == H3G_CONFIG_ERROR);
    CHECK(strstr(err, "--listen-sockets") != NULL);
    return TEST_RESULT();
}
