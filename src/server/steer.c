#include "server/steer.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

#ifndef SO_ATTACH_REUSEPORT_EBPF
#define SO_ATTACH_REUSEPORT_EBPF 52
#endif

/* Where the worker byte sits in a QUIC packet (RFC 9000 §17): a short header
 * has the DCID at byte 1, a long header its length at byte 5 and the DCID at
 * byte 6; h3gate's CIDs are 16 bytes with the worker at their byte 3. */
#define CID_LEN 16
#define CID_WORKER 3
#define SHORT_WORKER (1 + CID_WORKER)
#define LONG_DCID_LEN 5
#define LONG_WORKER (6 + CID_WORKER)
#define PEEK (LONG_WORKER + 1)
#define UDP_HEADER 8 /* the program's data starts at the UDP header */

struct steer {
    struct sockaddr_storage addr;
    socklen_t len;
    int map, prog;
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
#define STORE_W(d, s, o) INSN(BPF_STX | BPF_MEM | BPF_W, d, s, o, 0)
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

static int make_map(unsigned n)
{
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.map_type = BPF_MAP_TYPE_REUSEPORT_SOCKARRAY;
    a.key_size = sizeof(uint32_t);
    a.value_size = sizeof(uint64_t);
    a.max_entries = n;
    return (int)sys_bpf(BPF_MAP_CREATE, &a);
}

/* r10 - 16: the packet's first PEEK bytes; r10 - 4: the map key.  The jump
 * offsets count instructions after the jump (LOAD_MAP takes two). */
static int make_prog(int map)
{
    struct bpf_insn prog[] = {
        MOV_REG(6, 1),                      /* 0: r6 = ctx */
        MOV_IMM(2, UDP_HEADER),             /* 1 */
        MOV_REG(3, 10),                     /* 2 */
        ADD_IMM(3, -16),                    /* 3 */
        MOV_IMM(4, PEEK),                   /* 4 */
        CALL(BPF_FUNC_skb_load_bytes),      /* 5: too short: by hash */
        JNE_IMM(0, 0, 16),                  /* 6: -> 23 */
        LOAD_B(7, 10, -16),                 /* 7: the first byte */
        AND_IMM(7, 0x80),                   /* 8 */
        JNE_IMM(7, 0, 2),                   /* 9: long header -> 12 */
        LOAD_B(9, 10, -16 + SHORT_WORKER),  /* 10 */
        JUMP(3),                            /* 11: -> 15 */
        LOAD_B(8, 10, -16 + LONG_DCID_LEN), /* 12 */
        JNE_IMM(8, CID_LEN, 9),             /* 13: not one of ours: by hash -> 23 */
        LOAD_B(9, 10, -16 + LONG_WORKER),   /* 14 */
        STORE_W(10, 9, -4),                 /* 15: key = worker */
        MOV_REG(1, 6),                      /* 16 */
        LOAD_MAP(2, map),                   /* 17, 18 */
        MOV_REG(3, 10),                     /* 19 */
        ADD_IMM(3, -4),                     /* 20 */
        MOV_IMM(4, 0),                      /* 21: no worker there: by hash */
        CALL(BPF_FUNC_sk_select_reuseport), /* 22 */
        MOV_IMM(0, SK_PASS),                /* 23 */
        EXIT(),                             /* 24 */
    };
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.prog_type = BPF_PROG_TYPE_SK_REUSEPORT;
    a.insns = (uintptr_t)prog;
    a.insn_cnt = (uint32_t)H3G_ARRAY_LEN(prog);
    a.license = (uintptr_t) "GPL"; /* bpf_sk_select_reuseport is GPL-only */
    return (int)sys_bpf(BPF_PROG_LOAD, &a);
}

int h3g_steer_setup(const struct h3g_config *cfg, unsigned n, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->nlisten; i++) {
        const struct h3g_listen_addr *la = &cfg->listen[i];
        if (!la->quic)
            continue;
        struct steer *st = &g_steer[g_nsteer];
        st->map = make_map(n);
        st->prog = st->map >= 0 ? make_prog(st->map) : -1;
        if (st->prog < 0) {
            snprintf(err, errlen, "%s: %s", st->map < 0 ? "BPF map" : "BPF program",
                     strerror(errno));
            if (st->map >= 0)
                close(st->map);
            return H3G_ERR;
        }
        memcpy(&st->addr, &la->ss, la->len);
        st->len = la->len;
        g_nsteer++;
    }
    return 0;
}

int h3g_steer_active(void)
{
    return g_nsteer > 0;
}

int h3g_steer_add(const struct sockaddr *sa, socklen_t salen, unsigned worker, int fd, char *err,
                  size_t errlen)
{
    for (size_t i = 0; i < g_nsteer; i++) {
        struct steer *st = &g_steer[i];
        if (st->len != salen || memcmp(&st->addr, sa, salen) != 0)
            continue;
        uint32_t key = worker;
        uint64_t value = (uint64_t)fd;
        union bpf_attr a;
        memset(&a, 0, sizeof(a));
        a.map_fd = (uint32_t)st->map;
        a.key = (uintptr_t)&key;
        a.value = (uintptr_t)&value;
        a.flags = BPF_ANY;
        if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a) != 0 ||
            setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &st->prog, sizeof(st->prog)) !=
                0) {
            snprintf(err, errlen, "cannot steer by connection ID: %s", strerror(errno));
            return H3G_ERR;
        }
        return 0;
    }
    return 0;
}
