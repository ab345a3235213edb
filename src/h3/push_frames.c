/* The push frames of the client's control stream, which nghttp3 1.8 (it has no
 * server push) accepts without the checks RFC 9114 asks for: MAX_PUSH_ID must
 * never decrease (§7.2.7), and CANCEL_PUSH can only name a push the server
 * promised, which h3gate never does (§7.2.3); both are H3_ID_ERROR.  Frames
 * are followed across deliveries with a small byte-at-a-time state machine;
 * only the varints are kept, other payloads are skipped, and framing errors
 * are left to nghttp3 (the scan just stops). */
#include "common.h"
#include "h3/h3_internal.h"

enum { PF_STREAM_TYPE, PF_TYPE, PF_LEN, PF_VALUE, PF_SKIP, PF_OTHER };

#define FRAME_CANCEL_PUSH 0x03
#define FRAME_MAX_PUSH_ID 0x0d

/* Feeds one byte to the varint being read; 1 when it is complete. */
static int varint_byte(struct h3g_push_scan *p, uint8_t b)
{
    if (p->vneed == 0) {
        p->vneed = (uint8_t)(1u << (b >> 6));
        p->v = b & 0x3f;
    } else {
        p->v = (p->v << 8) | b;
    }
    return --p->vneed == 0;
}

static uint64_t frame_done(struct h3g_push_scan *p)
{
    uint64_t v = p->v;
    p->state = PF_TYPE;
    if (p->type == FRAME_CANCEL_PUSH)
        return H3G_H3_ID_ERROR;
    if (p->type == FRAME_MAX_PUSH_ID) {
        if (p->have_max && v < p->max_push_id)
            return H3G_H3_ID_ERROR;
        p->have_max = 1;
        p->max_push_id = v;
    }
    return 0;
}

uint64_t h3p_scan(struct h3g_push_scan *p, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t b = data[i];
        switch (p->state) {
        case PF_STREAM_TYPE:
            if (varint_byte(p, b))
                p->state = p->v == 0 ? PF_TYPE : PF_OTHER; /* 0: the control stream */
            break;
        case PF_TYPE:
            if (varint_byte(p, b)) {
                p->type = p->v;
                p->state = PF_LEN;
            }
            break;
        case PF_LEN:
            if (!varint_byte(p, b))
                break;
            p->left = p->v;
            if (p->type == FRAME_CANCEL_PUSH || p->type == FRAME_MAX_PUSH_ID)
                p->state = PF_VALUE;
            else
                p->state = p->left > 0 ? PF_SKIP : PF_TYPE;
            if (p->state == PF_VALUE && p->left == 0)
                p->state = PF_OTHER; /* malformed: nghttp3 judges framing */
            break;
        case PF_VALUE:
            p->left--;
            if (varint_byte(p, b)) {
                if (p->left != 0) {
                    p->state = PF_OTHER; /* bytes after the push id: framing */
                    break;
                }
                uint64_t err = frame_done(p);
                if (err != 0)
                    return err;
            } else if (p->left == 0) {
                p->state = PF_OTHER; /* the frame ends inside its varint */
            }
            break;
        case PF_SKIP: {
            size_t take = (size_t)H3G_MIN((uint64_t)(len - i), p->left);
            p->left -= take;
            i += take - 1;
            if (p->left == 0)
                p->state = PF_TYPE;
            break;
        }
        default: return 0; /* not the control stream: nothing to check */
        }
    }
    return 0;
}
