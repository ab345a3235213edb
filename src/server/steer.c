#include "server/steer.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

#ifndef SO_ATTACH_REUSEPORT_EBPF
#define SO_ATTACH_REUSEPORT_EBPF 52
#endif

/* Where the bytes that name a worker sit in a QUIC packet (RFC 9000 §17): a
 * short header has the DCID at byte 1, a long header its length at byte 5 and
 * the DCID at byte 6; h3gate's CIDs are 16 bytes with the server id at their
 * bytes 1-2 and the worker byte at byte 3 (src/quic/ngtcp2/cid.h). */
#define CID_LEN 16
#define CID_SID 1
#define CID_WORKER 3
#define SHORT_DCID 1
#define LONG_DCID_LEN 5
#define LONG_DCID 6
#define PEEK (LONG_DCID + CID_WORKER + 1)
#define UDP_HEADER 8 /* the program's data starts at the UDP header */

struct steer {
    struct sockaddr_storage addr;
    socklen_t len;
    int map, prog, ctl;
};

static struct steer g_steer[H3G_MAX_LISTEN];
static size_t g_nsteer;

#define INSN(c, d, s, o, i)                                                                        \
    ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define MOV_REG(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV_IMM(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ADD_IMM(d, i) INSN(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define AND_IMM(d, i) INSN(BPF_ALU64 | BPF_AND | BPF_K, d, 0, 0, i)
#define LOAD_B(d, s, o) INSN(BPF_LDX | BPF_MEM | BPF_B, d, s, o, 0)
#define LOAD_W(d, s, o) INSN(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define STORE_W(d, s, o) INSN(BPF_STX | BPF_MEM | BPF_W, d, s, o, 0)
#define STORE_W_IMM(d, o, i) INSN(BPF_ST | BPF_MEM | BPF_W, d, 0, o, i)
#define MOD32_REG(d, s) INSN(BPF_ALU | BPF_MOD | BPF_X, d, s, 0, 0)
#define ADD_REG(d, s) INSN(BPF_ALU64 | BPF_ADD | BPF_X, d, s, 0, 0)
#define JEQ_IMM(d, i, o) INSN(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, i)
#define JNE_IMM(d, i, o) INSN(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, i)
#define JUMP(o) INSN(BPF_JMP | BPF_JA, 0, 0, o, 0)
#define CALL(f) INSN(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define LOAD_MAP(d, fd)                                                                            \
    INSN(BPF_LD | BPF_DW | BPF_IMM, d, BPF_PSEUDO_MAP_FD, 0, fd), INSN(0, 0, 0, 0, 0)

static long sys_bpf(int cmd, union bpf_attr *attr)
{
    return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int make_map(unsigned type, unsigned value_size, unsigned n)
{
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.map_type = type;
    a.key_size = sizeof(uint32_t);
    a.value_size = value_size;
    a.max_entries = n;
    return (int)sys_bpf(BPF_MAP_CREATE, &a);
}

/* The active generation: its first key and its number of workers. */
struct steer_ctl {
    uint32_t base, n;
};

/* r10 - 16: the packet's first PEEK bytes; r10 - 4: the socket map key;
 * r10 - 8: the control map key.  A datagram with one of our CIDs goes to the
 * key in it (a gone generation's key is not in the map: the kernel's hash
 * then picks, and that worker answers with a stateless reset); any other
 * (a client's first Initial) to a worker of the active generation, by the
 * kernel's 4-tuple hash.  The jump offsets count instructions after the jump
 * (LOAD_MAP takes two). */
static int make_prog(int map, int ctl, uint16_t server_id)
{
    const int sid_hi = server_id >> 8, sid_lo = server_id & 0xff;
    struct bpf_insn prog[] = {
        MOV_REG(6, 1),                                        /* 0: r6 = ctx */
        MOV_IMM(2, UDP_HEADER),                               /* 1 */
        MOV_REG(3, 10),                                       /* 2 */
        ADD_IMM(3, -16),                                      /* 3 */
        MOV_IMM(4, PEEK),                                     /* 4 */
        CALL(BPF_FUNC_skb_load_bytes),                        /* 5 */
        JNE_IMM(0, 0, 17),                                    /* 6: too short -> 24 */
        LOAD_B(8, 10, -16),                                   /* 7: the first byte */
        AND_IMM(8, 0x80),                                     /* 8 */
        JEQ_IMM(8, 0, 8),                                     /* 9: short header -> 18 */
        LOAD_B(8, 10, -16 + LONG_DCID_LEN),                   /* 10 */
        JNE_IMM(8, CID_LEN, 12),                              /* 11: -> 24 */
        LOAD_B(8, 10, -16 + LONG_DCID + CID_SID),             /* 12 */
        JNE_IMM(8, sid_hi, 10),                               /* 13: -> 24 */
        LOAD_B(8, 10, -16 + LONG_DCID + CID_SID + 1),         /* 14 */
        JNE_IMM(8, sid_lo, 8),                                /* 15: -> 24 */
        LOAD_B(9, 10, -16 + LONG_DCID + CID_WORKER),          /* 16 */
        JUMP(19),                                             /* 17: -> 37 */
        LOAD_B(8, 10, -16 + SHORT_DCID + CID_SID),            /* 18 */
        JNE_IMM(8, sid_hi, 4),                                /* 19: -> 24 */
        LOAD_B(8, 10, -16 + SHORT_DCID + CID_SID + 1),        /* 20 */
        JNE_IMM(8, sid_lo, 2),                                /* 21: -> 24 */
        LOAD_B(9, 10, -16 + SHORT_DCID + CID_WORKER),         /* 22 */
        JUMP(13),                                             /* 23: -> 37 */
        STORE_W_IMM(10, -8, 0),                               /* 24: not ours: by hash */
        LOAD_MAP(1, ctl),                                     /* 25, 26 */
        MOV_REG(2, 10),                                       /* 27 */
        ADD_IMM(2, -8),                                       /* 28 */
        CALL(BPF_FUNC_map_lookup_elem),                       /* 29 */
        JEQ_IMM(0, 0, 14),                                    /* 30: -> 45 */
        LOAD_W(9, 6, offsetof(struct sk_reuseport_md, hash)), /* 31 */
        LOAD_W(8, 0, offsetof(struct steer_ctl, n)),          /* 32 */
        JEQ_IMM(8, 0, 11),                                    /* 33: no workers -> 45 */
        MOD32_REG(9, 8),                                      /* 34 */
        LOAD_W(8, 0, offsetof(struct steer_ctl, base)),       /* 35 */
        ADD_REG(9, 8),                                        /* 36 */
        STORE_W(10, 9, -4),                                   /* 37: key = worker */
        MOV_REG(1, 6),                                        /* 38 */
        LOAD_MAP(2, map),                                     /* 39, 40 */
        MOV_REG(3, 10),                                       /* 41 */
        ADD_IMM(3, -4),                                       /* 42 */
        MOV_IMM(4, 0),                                        /* 43 */
        CALL(BPF_FUNC_sk_select_reuseport),                   /* 44: no socket there: by hash */
        MOV_IMM(0, SK_PASS),                                  /* 45 */
        EXIT(),                                               /* 46 */
    };
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.prog_type = BPF_PROG_TYPE_SK_REUSEPORT;
    a.insns = (uintptr_t)prog;
    a.insn_cnt = (uint32_t)H3G_ARRAY_LEN(prog);
    a.license = (uintptr_t) "GPL"; /* bpf_sk_select_reuseport is GPL-only */
    return (int)sys_bpf(BPF_PROG_LOAD, &a);
}

static int ctl_write(const struct steer *st, unsigned gen, unsigned n)
{
    uint32_t key = 0;
    struct steer_ctl value = {h3g_steer_key(gen, 0), n};
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.map_fd = (uint32_t)st->ctl;
    a.key = (uintptr_t)&key;
    a.value = (uintptr_t)&value;
    a.flags = BPF_ANY;
    return (int)sys_bpf(BPF_MAP_UPDATE_ELEM, &a);
}

static void steer_close(struct steer *st)
{
    for (int *fd = &st->map; fd <= &st->ctl; fd++)
        if (*fd >= 0)
            close(*fd);
    st->map = st->prog = st->ctl = -1;
}

static int steer_make(struct steer *st, unsigned gen, unsigned n)
{
    st->map = make_map(BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, sizeof(uint64_t), H3G_STEER_KEYS);
    st->ctl = make_map(BPF_MAP_TYPE_ARRAY, sizeof(struct steer_ctl), 1);
    st->prog = st->map >= 0 && st->ctl >= 0 ? make_prog(st->map, st->ctl, 0) : -1;
    if (st->prog < 0 || ctl_write(st, gen, n) != 0) {
        steer_close(st);
        return H3G_ERR;
    }
    return 0;
}

static struct steer *find(const struct sockaddr *sa, socklen_t salen, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (g_steer[i].len == salen && memcmp(&g_steer[i].addr, sa, salen) == 0)
            return &g_steer[i];
    return NULL;
}

int h3g_steer_setup(const struct h3g_config *cfg, unsigned gen, unsigned n, char *err,
                    size_t errlen)
{
    /* g_steer holds what a binary upgrade handed over (h3g_steer_import):
     * an address served before keeps its map, program and group. */
    size_t inherited = g_nsteer;
    struct steer fresh[H3G_MAX_LISTEN];
    size_t nfresh = 0;
    int rc = 0;
    for (size_t i = 0; i < cfg->nlisten && rc == 0; i++) {
        const struct h3g_listen_addr *la = &cfg->listen[i];
        const struct sockaddr *sa = (const struct sockaddr *)&la->ss;
        if (!la->quic)
            continue;
        struct steer *old = find(sa, la->len, 0, inherited);
        struct steer *st = &fresh[nfresh++];
        if (old != NULL) {
            *st = *old;
            old->len = 0; /* taken */
            continue;
        }
        memcpy(&st->addr, &la->ss, la->len);
        st->len = la->len;
        if (steer_make(st, gen, n) != 0) {
            snprintf(err, errlen, "BPF map or program: %s", strerror(errno));
            nfresh--;
            rc = H3G_ERR;
        }
    }
    for (size_t i = 0; i < inherited; i++)
        if (g_steer[i].len != 0)
            steer_close(&g_steer[i]); /* no longer served */
    if (rc != 0) {
        for (size_t i = 0; i < nfresh; i++)
            steer_close(&fresh[i]);
        nfresh = 0;
    }
    memcpy(g_steer, fresh, nfresh * sizeof(fresh[0]));
    g_nsteer = nfresh;
    return rc;
}

int h3g_steer_activate(unsigned gen, unsigned n)
{
    int rc = 0;
    for (size_t i = 0; i < g_nsteer; i++)
        if (ctl_write(&g_steer[i], gen, n) != 0)
            rc = H3G_ERR;
    return rc;
}

int h3g_steer_active(void)
{
    return g_nsteer > 0;
}

int h3g_steer_add(const struct sockaddr *sa, socklen_t salen, unsigned key, int fd, char *err,
                  size_t errlen)
{
    struct steer *st = find(sa, salen, 0, g_nsteer);
    if (st == NULL)
        return 0;
    uint32_t k = key;
    uint64_t value = (uint64_t)fd;
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.map_fd = (uint32_t)st->map;
    a.key = (uintptr_t)&k;
    a.value = (uintptr_t)&value;
    a.flags = BPF_ANY;
    if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &st->prog, sizeof(st->prog)) != 0) {
        snprintf(err, errlen, "cannot steer by connection ID: %s", strerror(errno));
        return H3G_ERR;
    }
    return 0;
}

/* Handed over as "ADDR-HEX:MAP:PROG:CTL,..." (the descriptors stay open
 * across exec). */
int h3g_steer_export(char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < g_nsteer; i++) {
        const struct steer *st = &g_steer[i];
        const uint8_t *b = (const uint8_t *)&st->addr;
        if (off + 2 * st->len + 48 >= len)
            return H3G_ERR;
        if (i > 0)
            buf[off++] = ',';
        for (socklen_t k = 0; k < st->len; k++)
            off += (size_t)snprintf(buf + off, len - off, "%02x", b[k]);
        off += (size_t)snprintf(buf + off, len - off, ":%d:%d:%d", st->map, st->prog, st->ctl);
        for (const int *fd = &st->map; fd <= &st->ctl; fd++)
            if (fcntl(*fd, F_SETFD, 0) != 0)
                return H3G_ERR;
    }
    return 0;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int import_one(const char *s, struct steer *st)
{
    uint8_t *b = (uint8_t *)&st->addr;
    size_t n = 0;
    while (n < sizeof(st->addr) && hex_digit(s[0]) >= 0 && hex_digit(s[1]) >= 0) {
        b[n++] = (uint8_t)(hex_digit(s[0]) << 4 | hex_digit(s[1]));
        s += 2;
    }
    st->len = (socklen_t)n;
    if (n < sizeof(sa_family_t) || sscanf(s, ":%d:%d:%d", &st->map, &st->prog, &st->ctl) != 3)
        return H3G_ERR;
    for (const int *fd = &st->map; fd <= &st->ctl; fd++)
        if (*fd < 0 || fcntl(*fd, F_SETFD, FD_CLOEXEC) != 0)
            return H3G_ERR;
    return 0;
}

int h3g_steer_import(const char *spec)
{
    const char *s = spec;
    while (*s != '\0' && g_nsteer < H3G_MAX_LISTEN) {
        if (import_one(s, &g_steer[g_nsteer]) != 0)
            return H3G_ERR;
        g_nsteer++;
        s = strchr(s, ',');
        if (s == NULL)
            break;
        s++;
    }
    return 0;
}
