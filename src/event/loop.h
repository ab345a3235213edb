/* A small epoll event loop: fd watchers, one-shot timers, signals.
 * Decision (DESIGN.md): our own loop instead of libev — the QUIC engine needs only
 * a handful of fds plus "run this after N ms", and owning the loop keeps the
 * OpenSSL tick integration (SSL_get_event_timeout) in one place. */
#ifndef H3G_EVENT_LOOP_H
#define H3G_EVENT_LOOP_H

#include <stddef.h>
#include <stdint.h>

typedef struct h3g_loop h3g_loop;
typedef struct h3g_io h3g_io;
typedef struct h3g_timer h3g_timer;
typedef struct h3g_prepare h3g_prepare;

enum { H3G_IO_READ = 1, H3G_IO_WRITE = 2 };

typedef void (*h3g_io_cb)(h3g_io *io, int revents, void *arg);
typedef void (*h3g_timer_cb)(h3g_timer *t, void *arg);
typedef void (*h3g_signal_cb)(int signo, void *arg);
/* Runs once per loop iteration, before waiting; returns the longest time (µs) the
 * loop may sleep, or -1 for no limit.  Microseconds: a QUIC stack paces packets
 * at intervals well under a millisecond. */
typedef int64_t (*h3g_prepare_cb)(void *arg);

struct h3g_io {
    int fd;
    int events; /* currently registered */
    h3g_io_cb cb;
    void *arg;
};

/* A hook run once per iteration before the loop waits (a QUIC engine flushes
 * its output and computes its next deadline there).  Several may be added. */
struct h3g_prepare {
    h3g_prepare_cb cb;
    void *arg;
    h3g_prepare *next;
};

struct h3g_timer {
    uint64_t due_us;
    size_t heap_idx; /* SIZE_MAX when not armed */
    h3g_timer_cb cb;
    void *arg;
};

h3g_loop *h3g_loop_new(void);
void h3g_loop_free(h3g_loop *loop);

int h3g_io_start(h3g_loop *loop, h3g_io *io, int fd, int events, h3g_io_cb cb, void *arg);
int h3g_io_modify(h3g_loop *loop, h3g_io *io, int events);
void h3g_io_stop(h3g_loop *loop, h3g_io *io);

void h3g_timer_init(h3g_timer *t, h3g_timer_cb cb, void *arg);
int h3g_timer_start(h3g_loop *loop, h3g_timer *t, uint64_t after_ms);
int h3g_timer_start_us(h3g_loop *loop, h3g_timer *t, uint64_t after_us);
void h3g_timer_stop(h3g_loop *loop, h3g_timer *t);
int h3g_timer_active(const h3g_timer *t);

/* Blocks the signal and delivers it through the loop. */
int h3g_loop_on_signal(h3g_loop *loop, int signo, h3g_signal_cb cb, void *arg);
void h3g_loop_add_prepare(h3g_loop *loop, h3g_prepare *p, h3g_prepare_cb cb, void *arg);
void h3g_loop_remove_prepare(h3g_loop *loop, h3g_prepare *p);

/* Runs until h3g_loop_stop(); returns 0, or a negative code on a fatal error. */
int h3g_loop_run(h3g_loop *loop);
void h3g_loop_stop(h3g_loop *loop);

#endif
