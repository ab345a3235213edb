#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"
#include "event/loop.h"
#include "testutil.h"

static int order[8], norder;
static h3g_loop *L;

static void fire(h3g_timer *t, void *arg)
{
    (void)t;
    order[norder++] = (int)(intptr_t)arg;
    if (norder == 3)
        h3g_loop_stop(L);
}

static int got_signal;
static void on_sig(int signo, void *arg)
{
    (void)arg;
    got_signal = signo;
    h3g_loop_stop(L);
}

/* Two ready watchers: whichever runs first stops and frees the other, which
 * must then not run (its event is still in the same epoll batch). */
static h3g_io *watchers[2];
static int io_calls;

static void on_ready(h3g_io *io, int revents, void *arg)
{
    (void)revents;
    (void)arg;
    io_calls++;
    h3g_io *other = watchers[0] == io ? watchers[1] : watchers[0];
    h3g_io_stop(L, other);
    free(other);
    watchers[watchers[0] == io ? 1 : 0] = NULL;
    h3g_io_stop(L, io);
    h3g_loop_stop(L);
}

static void test_stop_in_batch(void)
{
    int p1[2], p2[2];
    CHECK(pipe(p1) == 0 && pipe(p2) == 0);
    CHECK(write(p1[1], "x", 1) == 1 && write(p2[1], "y", 1) == 1);
    watchers[0] = calloc(1, sizeof(h3g_io));
    watchers[1] = calloc(1, sizeof(h3g_io));
    CHECK(h3g_io_start(L, watchers[0], p1[0], H3G_IO_READ, on_ready, NULL) == 0);
    CHECK(h3g_io_start(L, watchers[1], p2[0], H3G_IO_READ, on_ready, NULL) == 0);
    CHECK(h3g_loop_run(L) == 0);
    CHECK(io_calls == 1);
    free(watchers[0] != NULL ? watchers[0] : watchers[1]);
    close(p1[0]), close(p1[1]), close(p2[0]), close(p2[1]);
}

int main(void)
{
    h3g_timer a, b, c, d;
    L = h3g_loop_new();
    CHECK(L != NULL);
    h3g_timer_init(&a, fire, (void *)1);
    h3g_timer_init(&b, fire, (void *)2);
    h3g_timer_init(&c, fire, (void *)3);
    h3g_timer_init(&d, fire, (void *)4);
    h3g_timer_start(L, &c, 30);
    h3g_timer_start(L, &a, 10);
    h3g_timer_start(L, &d, 15);
    h3g_timer_start(L, &b, 20);
    h3g_timer_stop(L, &d); /* a stopped timer never fires */
    CHECK(!h3g_timer_active(&d));
    CHECK(h3g_timer_active(&a));
    uint64_t t0 = h3g_now_ms();
    CHECK(h3g_loop_run(L) == 0);
    CHECK(norder == 3 && order[0] == 1 && order[1] == 2 && order[2] == 3);
    CHECK(h3g_now_ms() - t0 >= 29);

    /* signals arrive through the loop */
    CHECK(h3g_loop_on_signal(L, SIGUSR1, on_sig, NULL) == 0);
    h3g_timer_init(&a, fire, (void *)9);
    kill(getpid(), SIGUSR1);
    CHECK(h3g_loop_run(L) == 0);
    CHECK(got_signal == SIGUSR1);

    /* many timers keep heap order */
    h3g_timer many[100];
    norder = 0;
    for (int i = 0; i < 100; i++) {
        h3g_timer_init(&many[i], fire, (void *)(intptr_t)i);
        h3g_timer_start(L, &many[i], (uint64_t)(100 - i) * 1000);
    }
    for (int i = 0; i < 100; i += 2)
        h3g_timer_stop(L, &many[i]);
    for (int i = 1; i < 100; i += 2)
        CHECK(h3g_timer_active(&many[i]));
    for (int i = 1; i < 100; i += 2)
        h3g_timer_stop(L, &many[i]);
    test_stop_in_batch();
    h3g_loop_free(L);
    return TEST_RESULT();
}
