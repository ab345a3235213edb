#include "obs/logwriter.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "obs/log.h"

#define STOP_WAIT_S 5

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int running, stop;
    int fd;
    char *queue; /* whole lines, in order */
    size_t len, cap;
} w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .fd = -1};

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return; /* a full or failing disk: what is lost is lost here only */
        p += k;
        n -= (size_t)k;
    }
}

/* Takes the whole queue at once and writes it outside the lock: the event
 * loop only ever waits for a memcpy. */
static void *run(void *arg)
{
    char *batch = NULL;
    size_t cap = 0;
    (void)arg;
    pthread_mutex_lock(&w.mu);
    for (;;) {
        while (w.len == 0 && !w.stop)
            pthread_cond_wait(&w.cv, &w.mu);
        if (w.len == 0)
            break;
        char *b = w.queue;
        size_t n = w.len, c = w.cap;
        w.queue = batch;
        w.cap = cap;
        w.len = 0;
        batch = b;
        cap = c;
        int fd = w.fd;
        pthread_mutex_unlock(&w.mu);
        write_all(fd, batch, n);
        pthread_mutex_lock(&w.mu);
    }
    pthread_mutex_unlock(&w.mu);
    free(batch);
    return NULL;
}

int h3g_logwriter_start(int fd)
{
    sigset_t all, old;
    w.fd = fd;
    w.stop = 0;
    /* The thread takes no signals: the event loop reads them (signalfd)
     * only if no thread leaves them unblocked. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&w.thread, NULL, run, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        close(fd);
        w.fd = -1;
        return H3G_ERR;
    }
    w.running = 1;
    return 0;
}

int h3g_logwriter_push(const char *data, size_t len)
{
    int rc = 0;
    pthread_mutex_lock(&w.mu);
    if (w.len + len > H3G_LOGWRITER_QUEUE ||
        h3g_reserve((void **)&w.queue, &w.cap, w.len + len, 65536) != 0) {
        rc = H3G_ELIMIT;
    } else {
        memcpy(w.queue + w.len, data, len);
        w.len += len;
        pthread_cond_signal(&w.cv);
    }
    pthread_mutex_unlock(&w.mu);
    return rc;
}

void h3g_logwriter_switch(int fd)
{
    /* dup2 is atomic: a write in progress finishes on the old file, the next
     * one goes to the new */
    if (dup2(fd, w.fd) < 0)
        return;
    close(fd);
}

void h3g_logwriter_stop(void)
{
    if (!w.running)
        return;
    pthread_mutex_lock(&w.mu);
    w.stop = 1;
    pthread_cond_signal(&w.cv);
    pthread_mutex_unlock(&w.mu);
    /* A file that takes nothing (a stuck disk, a FIFO nobody reads) must not
     * hold the exit: what it has not taken after a while is given up. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += STOP_WAIT_S;
    if (pthread_timedjoin_np(w.thread, NULL, &until) != 0) {
        pthread_detach(w.thread);
        w.running = 0;
        h3g_warn("access log: the file took nothing for %d s; the lines still queued are lost",
                 STOP_WAIT_S);
        return;
    }
    w.running = 0;
    if (w.fd > STDERR_FILENO)
        close(w.fd);
    w.fd = -1;
    free(w.queue);
    w.queue = NULL;
    w.len = w.cap = 0;
}

int h3g_logwriter_running(void)
{
    return w.running;
}
