#include "quic/ossl/peer_bio.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <sys/socket.h>

int main(void)
{
    /* QUIC v1 Initial: long header, fixed bit, type 0, version 1 */
    uint8_t initial[1200] = {0xc3, 0, 0, 0, 1, 8};
    uint8_t handshake[64] = {0xe3, 0, 0, 0, 1, 8};
    uint8_t zerortt[64] = {0xd3, 0, 0, 0, 1, 8};
    uint8_t short_hdr[64] = {0x43, 1, 2, 3, 4, 5};
    uint8_t vneg[64] = {0xc0, 0, 0, 0, 0, 8};
    uint8_t v2[64] = {0xc3, 0x6b, 0x33, 0x43, 0xcf, 8};
    CHECK(h3g_is_quic_initial(initial, sizeof(initial)));
    CHECK(!h3g_is_quic_initial(handshake, sizeof(handshake)));
    CHECK(!h3g_is_quic_initial(zerortt, sizeof(zerortt)));
    CHECK(!h3g_is_quic_initial(short_hdr, sizeof(short_hdr)));
    CHECK(!h3g_is_quic_initial(vneg, sizeof(vneg)));
    CHECK(!h3g_is_quic_initial(v2, sizeof(v2)));
    CHECK(!h3g_is_quic_initial(initial, 3));

    BIO_ADDR *a = BIO_ADDR_new();
    char buf[64];
    unsigned char v4[4] = {127, 0, 0, 1};
    unsigned char v6[16] = {0};
    v6[15] = 1;
    BIO_ADDR_rawmake(a, AF_INET, v4, 4, htons(4433));
    h3g_bio_addr_format(a, buf, sizeof(buf));
    CHECK_STR(buf, "127.0.0.1:4433");
    BIO_ADDR_rawmake(a, AF_INET6, v6, 16, htons(443));
    h3g_bio_addr_format(a, buf, sizeof(buf));
    CHECK_STR(buf, "[::1]:443");
    BIO_ADDR_clear(a);
    h3g_bio_addr_format(a, buf, sizeof(buf));
    CHECK_STR(buf, "-");
    BIO_ADDR_free(a);
    return TEST_RESULT();
}
