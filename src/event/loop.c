#include "event/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define MAX_SIGNALS 8

struct h3g_loop {
    int epfd;
    int stop;
    h3g_timer **heap;
    size_t nheap, capheap;
    int sigfd;
    sigset_t sigmask;
    h3g_io sigio;
    struct {
        int signo;
        h3g_signal_cb cb;
        void *arg;
    } sigs[MAX_SIGNALS];
    size_t nsigs;
    h3g_prepare *prepares;
    /* The events being dispatched: a watcher stopped (and perhaps freed) by
     * an earlier callback of the same batch is taken out of it. */
    struct epoll_event *batch;
    int nbatch, ibatch;
};

h3g_loop *h3g_loop_new(void)
{
    h3g_loop *loop = calloc(1, sizeof(*loop));
    if (loop == NULL)
        return NULL;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    loop->sigfd = -1;
    sigemptyset(&loop->sigmask);
    if (loop->epfd < 0) {
        free(loop);
        return NULL;
    }
    return loop;
}

void h3g_loop_free(h3g_loop *loop)
{
    if (loop == NULL)
        return;
    if (loop->sigfd >= 0)
        close(loop->sigfd);
    close(loop->epfd);
    free(loop->heap);
    free(loop);
}

static uint32_t to_epoll(int events)
{
    return ((events & H3G_IO_READ) ? EPOLLIN : 0u) | ((events & H3G_IO_WRITE) ? EPOLLOUT : 0u);
}

int h3g_io_start(h3g_loop *loop, h3g_io *io, int fd, int events, h3g_io_cb cb, void *arg)
{
    struct epoll_event ev = {.events = to_epoll(events), .data.ptr = io};
    io->fd = fd;
    io->events = events;
    io->cb = cb;
    io->arg = arg;
    return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : H3G_ERR;
}

int h3g_io_modify(h3g_loop *loop, h3g_io *io, int events)
{
    struct epoll_event ev = {.events = to_epoll(events), .data.ptr = io};
    if (events == io->events)
        return 0;
    io->events = events;
    return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) == 0 ? 0 : H3G_ERR;
}

void h3g_io_stop(h3g_loop *loop, h3g_io *io)
{
    if (io->fd >= 0)
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->fd = -1;
    for (int i = loop->ibatch + 1; i < loop->nbatch; i++)
        if (loop->batch[i].data.ptr == io)
            loop->batch[i].data.ptr = NULL;
}

/* ---- timers: binary min-heap on due_us ---- */

void h3g_timer_init(h3g_timer *t, h3g_timer_cb cb, void *arg)
{
    t->due_us = 0;
    t->heap_idx = SIZE_MAX;
    t->cb = cb;
    t->arg = arg;
}

int h3g_timer_active(const h3g_timer *t)
{
    return t->heap_idx != SIZE_MAX;
}

static void heap_set(h3g_loop *loop, size_t i, h3g_timer *t)
{
    loop->heap[i] = t;
    t->heap_idx = i;
}

static void heap_up(h3g_loop *loop, size_t i)
{
    h3g_timer *t = loop->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (loop->heap[p]->due_us <= t->due_us)
            break;
        heap_set(loop, i, loop->heap[p]);
        i = p;
    }
    heap_set(loop, i, t);
}

static void heap_down(h3g_loop *loop, size_t i)
{
    h3g_timer *t = loop->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        uint64_t best = t->due_us;
        if (l < loop->nheap && loop->heap[l]->due_us < best) {
            m = l;
            best = loop->heap[l]->due_us;
        }
        if (l + 1 < loop->nheap && loop->heap[l + 1]->due_us < best)
            m = l + 1;
        if (m == i)
            break;
        heap_set(loop, i, loop->heap[m]);
        i = m;
    }
    heap_set(loop, i, t);
}

void h3g_timer_stop(h3g_loop *loop, h3g_timer *t)
{
    size_t i = t->heap_idx;
    if (i == SIZE_MAX)
        return;
    t->heap_idx = SIZE_MAX;
    loop->nheap--;
    if (i == loop->nheap)
        return;
    h3g_timer *moved = loop->heap[loop->nheap];
    heap_set(loop, i, moved);
    heap_up(loop, i);
    heap_down(loop, moved->heap_idx);
}

int h3g_timer_start(h3g_loop *loop, h3g_timer *t, uint64_t after_ms)
{
    return h3g_timer_start_us(loop, t, after_ms * 1000);
}

int h3g_timer_start_us(h3g_loop *loop, h3g_timer *t, uint64_t after_us)
{
    h3g_timer_stop(loop, t);
    if (loop->nheap == loop->capheap) {
        size_t cap = loop->capheap ? loop->capheap * 2 : 64;
        h3g_timer **h = realloc(loop->heap, cap * sizeof(*h));
        if (h == NULL)
            return H3G_ENOMEM;
        loop->heap = h;
        loop->capheap = cap;
    }
    t->due_us = h3g_now_us() + after_us;
    heap_set(loop, loop->nheap++, t);
    heap_up(loop, t->heap_idx);
    return 0;
}

/* ---- signals ---- */

static void on_signalfd(h3g_io *io, int revents, void *arg)
{
    h3g_loop *loop = arg;
    struct signalfd_siginfo si;
    H3G_UNUSED(revents);
    while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        for (size_t i = 0; i < loop->nsigs; i++)
            if (loop->sigs[i].signo == (int)si.ssi_signo)
                loop->sigs[i].cb((int)si.ssi_signo, loop->sigs[i].arg);
    }
}

int h3g_loop_on_signal(h3g_loop *loop, int signo, h3g_signal_cb cb, void *arg)
{
    if (loop->nsigs == MAX_SIGNALS)
        return H3G_ELIMIT;
    sigaddset(&loop->sigmask, signo);
    if (sigprocmask(SIG_BLOCK, &loop->sigmask, NULL) != 0)
        return H3G_ERR;
    int fd = signalfd(loop->sigfd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return H3G_ERR;
    if (loop->sigfd < 0) {
        loop->sigfd = fd;
        if (h3g_io_start(loop, &loop->sigio, fd, H3G_IO_READ, on_signalfd, loop) != 0)
            return H3G_ERR;
    }
    loop->sigs[loop->nsigs].signo = signo;
    loop->sigs[loop->nsigs].cb = cb;
    loop->sigs[loop->nsigs].arg = arg;
    loop->nsigs++;
    return 0;
}

void h3g_loop_add_prepare(h3g_loop *loop, h3g_prepare *p, h3g_prepare_cb cb, void *arg)
{
    p->cb = cb;
    p->arg = arg;
    p->next = loop->prepares;
    loop->prepares = p;
}

void h3g_loop_remove_prepare(h3g_loop *loop, h3g_prepare *p)
{
    for (h3g_prepare **pp = &loop->prepares; *pp != NULL; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            return;
        }
}

/* The shortest wait any hook asks for (-1: none asked). */
static int64_t run_prepares(h3g_loop *loop)
{
    int64_t wait = -1;
    for (h3g_prepare *p = loop->prepares, *next; p != NULL && !loop->stop; p = next) {
        next = p->next;
        int64_t w = p->cb(p->arg);
        if (w >= 0 && (wait < 0 || w < wait))
            wait = w;
    }
    return wait;
}

void h3g_loop_stop(h3g_loop *loop)
{
    loop->stop = 1;
}

static void run_timers(h3g_loop *loop)
{
    uint64_t now = h3g_now_us();
    while (loop->nheap > 0 && loop->heap[0]->due_us <= now) {
        h3g_timer *t = loop->heap[0];
        h3g_timer_stop(loop, t);
        t->cb(t, t->arg);
    }
}

int h3g_loop_run(h3g_loop *loop)
{
    struct epoll_event evs[64];
    loop->stop = 0;
    while (!loop->stop) {
        int64_t wait = run_prepares(loop);
        if (loop->stop)
            break;
        if (loop->nheap > 0) {
            uint64_t now = h3g_now_us(), due = loop->heap[0]->due_us;
            int64_t t = due > now ? (int64_t)(due - now) : 0;
            if (wait < 0 || t < wait)
                wait = t;
        }
        if (wait < 0 || wait > 60000000)
            wait = 60000000;
        struct timespec ts = {.tv_sec = wait / 1000000, .tv_nsec = (wait % 1000000) * 1000};
        int n = epoll_pwait2(loop->epfd, evs, (int)H3G_ARRAY_LEN(evs), &ts, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return H3G_ERR;
        }
        loop->batch = evs;
        loop->nbatch = n;
        for (loop->ibatch = 0; loop->ibatch < n; loop->ibatch++) {
            h3g_io *io = evs[loop->ibatch].data.ptr;
            int i = loop->ibatch, re = 0;
            if (io == NULL)
                continue; /* stopped by an earlier callback of this batch */
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                re |= H3G_IO_READ;
            if (evs[i].events & (EPOLLOUT | EPOLLERR))
                re |= H3G_IO_WRITE;
            if (io->fd >= 0)
                io->cb(io, re, io->arg);
        }
        loop->nbatch = 0;
        run_timers(loop);
    }
    return 0;
}
