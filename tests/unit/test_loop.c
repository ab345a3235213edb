#include <signal.h>
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
    h3g_loop_free(L);
    return TEST_RESULT();
}
