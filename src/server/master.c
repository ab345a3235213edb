/* The master of several worker processes. */
#include "server/master.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "event/loop.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "obs/notify.h"
#include "quic/udp.h"
#include "server/privs.h"
#include "server/server.h"
#include "server/steer.h"
#include "server/upgrade.h"
#include "tcp/conn.h"
#include "tls/tls.h"

/* A worker that dies this soon after starting waits before the next try. */
#define FAST_DEATH_MS 1000
#define RESPAWN_BACKOFF_MS 1000
#define READY_TIMEOUT_MS 60000

struct wproc {
    pid_t pid; /* 0: not running */
    uint64_t started_ms;
    int ready;
    int reloading; /* told of the reload in progress, not done yet */
};

struct master {
    int argc;
    char **argv;
    struct h3g_config cfg; /* the running configuration, as the master read it */
    unsigned n;
    struct wproc w[H3G_MAX_WORKERS];
    pid_t self;
    h3g_loop *loop;
    int status[2]; /* workers write, the master reads */
    h3g_io status_io;
    h3g_timer respawn, ready_deadline;
    int announced, stopping, exit_code;
    unsigned reload_failed; /* workers that refused the reload in progress */
    int reload_running;
    struct h3g_upgrade_from from; /* the old master, when an upgrade started this one */
    pid_t next;                   /* the new master of an upgrade in progress, or 0 */
    int next_fd;                  /* its readiness (h3g_upgrade_result) */
    h3g_io next_io;
};

static unsigned running(const struct master *m)
{
    unsigned k = 0;
    for (unsigned i = 0; i < m->n; i++)
        k += m->w[i].pid != 0;
    return k;
}

static void signal_all(struct master *m, int signo)
{
    for (unsigned i = 0; i < m->n; i++)
        if (m->w[i].pid != 0)
            kill(m->w[i].pid, signo);
}

/* In the child: the master's loop and signal mask go, the worker builds its
 * own.  A worker whose master dies is told to stop (PR_SET_PDEATHSIG). */
/* The signals stay blocked as the master had them: one that comes while the
 * worker starts waits for its loop (their default action would end it). */
static void become_worker(struct master *m, unsigned i)
{
    struct h3g_worker w = {i, m->n, m->status[1], m->self, m->from.gen};
    h3g_loop_free(m->loop);
    close(m->status[0]);
    unsetenv("NOTIFY_SOCKET"); /* systemd hears from the master alone */
    h3g_metrics_use_slot(i);
    char tag[24];
    snprintf(tag, sizeof(tag), "worker %u", i);
    h3g_log_set_tag(tag);
    /* the configuration the master checked last (fork copied it) */
    exit(h3g_worker_main(&m->cfg, m->argc, m->argv, &w));
}

static int spawn(struct master *m, unsigned i)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        h3g_err("cannot start worker %u: %s", i, strerror(errno));
        return H3G_ERR;
    }
    if (pid == 0)
        become_worker(m, i);
    m->w[i] = (struct wproc){pid, h3g_now_ms(), 0, 0};
    return 0;
}

static void respawn_tick(h3g_timer *t, void *arg)
{
    struct master *m = arg;
    uint64_t now = h3g_now_ms();
    int again = 0;
    (void)t;
    for (unsigned i = 0; i < m->n && !m->stopping; i++) {
        if (m->w[i].pid != 0)
            continue;
        if (now - m->w[i].started_ms < FAST_DEATH_MS + RESPAWN_BACKOFF_MS) {
            again = 1; /* it died fast: give what broke a moment */
            continue;
        }
        h3g_info("starting worker %u again", i);
        if (spawn(m, i) != 0)
            again = 1;
    }
    if (again)
        h3g_timer_start(m->loop, &m->respawn, RESPAWN_BACKOFF_MS / 2);
}

static void describe_exit(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status))
        snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

static void reload_done(struct master *m)
{
    if (m->reload_failed > 0)
        h3g_err("reload: %u worker(s) refused the new configuration (see above) and keep "
                "theirs",
                m->reload_failed);
    else
        h3g_info("reload: every worker (%u) uses the new configuration", running(m));
    h3g_sd_notify("READY=1");
}

/* Worker i is done with the reload (or gone); the last one ends it.  i == n:
 * nothing new, only whether it is over. */
static void reload_settle(struct master *m, unsigned i, int ok)
{
    if (!m->reload_running)
        return;
    if (i < m->n && m->w[i].reloading) {
        m->w[i].reloading = 0;
        m->reload_failed += !ok;
    }
    for (unsigned k = 0; k < m->n; k++)
        if (m->w[k].reloading)
            return;
    m->reload_running = 0;
    reload_done(m);
}

static void worker_died(struct master *m, unsigned i, int status)
{
    char how[96];
    describe_exit(status, how, sizeof(how));
    int was_ready = m->w[i].ready;
    m->w[i].pid = 0;
    reload_settle(m, i, 0);
    if (m->stopping) {
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            h3g_warn("worker %u %s while stopping", i, how);
        return;
    }
    if (!m->announced || !was_ready) {
        /* it could not start (its error is in the log): the others stop too */
        h3g_err("worker %u %s before it was ready; stopping", i, how);
        m->stopping = 1;
        m->exit_code = 1;
        signal_all(m, SIGTERM);
        return;
    }
    h3g_err("worker %u %s; its connections are lost, a new worker takes its place", i, how);
    h3g_timer_start(m->loop, &m->respawn, 0);
}

static void next_gone(struct master *m)
{
    h3g_io_stop(m->loop, &m->next_io);
    close(m->next_fd);
    m->next_fd = -1;
}

/* The new master exited before it said it was ready. */
static void next_died(struct master *m, int status)
{
    char how[96];
    describe_exit(status, how, sizeof(how));
    if (m->next_fd >= 0)
        next_gone(m);
    h3g_err("binary upgrade failed: the new h3gate (pid %ld) %s before it was ready (its "
            "messages are above); this one goes on serving",
            (long)m->next, how);
    m->next = 0;
}

/* The old workers stop as after SIGTERM, but quietly towards systemd (the
 * new master is the service now), and they close the admin port too. */
static void drain_for_upgrade(struct master *m)
{
    char state[64];
    snprintf(state, sizeof(state), "MAINPID=%ld", (long)m->next);
    h3g_sd_notify(state);
    h3g_info("binary upgrade: the new h3gate (pid %ld) is serving; draining %u worker(s), then "
             "exiting",
             (long)m->next, running(m));
    m->stopping = 1;
    m->next = 0; /* it outlives this process: no longer ours to watch */
    signal_all(m, SIGQUIT);
    if (running(m) == 0)
        h3g_loop_stop(m->loop);
}

static void on_next(h3g_io *io, int revents, void *arg)
{
    struct master *m = arg;
    (void)io;
    (void)revents;
    int r = h3g_upgrade_result(m->next_fd);
    if (r < 0)
        return;
    next_gone(m);
    if (r == 1)
        drain_for_upgrade(m);
    /* r == 0: it is gone; next_died says how once it is reaped */
}

static void on_upgrade(struct master *m)
{
    char err[512];
    if (m->stopping || m->next != 0 || !m->announced) {
        h3g_warn("SIGUSR2 %s: ignored", m->stopping    ? "while shutting down"
                                        : m->next != 0 ? "while an upgrade runs"
                                                       : "before the workers are ready");
        return;
    }
    /* its workers still hold the other generation's keys; it is our parent
     * until it exits (then init or a subreaper is) */
    if (m->from.pid != 0 && getppid() == m->from.pid) {
        h3g_warn("SIGUSR2: the master this one replaced (pid %ld) still drains its connections; "
                 "ignored (send it again once that one has exited)",
                 (long)m->from.pid);
        return;
    }
    if (!h3g_steer_active())
        h3g_warn("binary upgrade: QUIC datagrams are not steered by connection ID here, so some "
                 "of those of running QUIC connections may reach the new workers, which do not "
                 "know them (docs/operations.md)");
    pid_t pid = h3g_upgrade_start(m->argv, m->from.gen ^ 1u, &m->next_fd, err, sizeof(err));
    if (pid < 0) {
        h3g_err("binary upgrade failed: %s; this one goes on serving", err);
        return;
    }
    m->next = pid;
    if (h3g_io_start(m->loop, &m->next_io, m->next_fd, H3G_IO_READ, on_next, m) != 0) {
        /* unwatched, it would serve beside this one for good */
        h3g_err("binary upgrade failed: cannot watch the new h3gate (pid %ld); stopping it",
                (long)pid);
        kill(pid, SIGTERM);
        close(m->next_fd);
        m->next_fd = -1;
        return;
    }
    h3g_info("SIGUSR2: binary upgrade: started the new h3gate (pid %ld); this one serves until "
             "it is ready",
             (long)pid);
}

static void reap(struct master *m)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == m->next)
            next_died(m, status);
        for (unsigned i = 0; i < m->n; i++)
            if (m->w[i].pid == pid)
                worker_died(m, i, status);
    }
    if (m->stopping && running(m) == 0)
        h3g_loop_stop(m->loop);
}

static const char *serving_what(const struct h3g_config *cfg)
{
    return cfg->cli_upstream_server[0] ? cfg->cli_upstream_server
           : cfg->root                 ? cfg->root
                                       : cfg->config_file;
}

static void announce(struct master *m)
{
    m->announced = 1;
    h3g_timer_stop(m->loop, &m->ready_deadline);
    h3g_info("h3gate %s serving %s on %s (%s, QUIC engine %s, %u workers)", H3G_VERSION,
             serving_what(&m->cfg), m->cfg.listen[0].text, h3g_tls_openssl_version(), m->cfg.engine,
             m->n);
    if (m->from.pid != 0) {
        /* new clients come here from now on; the old master drains (and tells
         * systemd that this one is the main process) */
        if (h3g_steer_active() && h3g_steer_activate(m->from.gen, m->n) != 0)
            h3g_warn("binary upgrade: new QUIC clients may still reach the old workers: %s",
                     strerror(errno));
        h3g_info("binary upgrade: serving; the old master (pid %ld) drains its connections",
                 (long)m->from.pid);
        h3g_upgrade_ready(&m->from);
        return;
    }
    if (h3g_sd_notify("READY=1") < 0)
        h3g_warn("cannot tell systemd we are ready ($NOTIFY_SOCKET): %s", strerror(errno));
}

static void on_status(h3g_io *io, int revents, void *arg)
{
    struct master *m = arg;
    struct h3g_worker_msg msg;
    (void)io;
    (void)revents;
    while (read(m->status[0], &msg, sizeof(msg)) == (ssize_t)sizeof(msg)) {
        if (msg.index >= m->n)
            continue;
        if (msg.kind == H3G_WMSG_READY) {
            m->w[msg.index].ready = 1;
            unsigned ready = 0;
            for (unsigned i = 0; i < m->n; i++)
                ready += m->w[i].ready;
            if (!m->announced && ready == m->n)
                announce(m);
        } else if (msg.kind == H3G_WMSG_RELOADED) {
            reload_settle(m, msg.index, msg.ok);
        }
    }
}

static void ready_timeout(h3g_timer *t, void *arg)
{
    struct master *m = arg;
    (void)t;
    h3g_err("the workers did not start within %d s; stopping", READY_TIMEOUT_MS / 1000);
    m->stopping = 1;
    m->exit_code = 1;
    signal_all(m, SIGTERM);
}

/* The ports must be free before workers share them with SO_REUSEPORT (which
 * would also let a bind join someone else's group). */
struct port_want {
    const struct h3g_listen_addr *la;
    int udp, tcp, https;
};

static int probe_one(const struct port_want *p, const struct h3g_config *running_cfg, char *err,
                     size_t errlen)
{
    const struct sockaddr *sa = (const struct sockaddr *)&p->la->ss;
    /* a socket the workers have already is ours */
    if (p->udp && (running_cfg == NULL || !h3g_config_serves(running_cfg, p->la, 1)) &&
        h3g_udp_probe(sa, p->la->len, p->la->text, err, errlen) != 0)
        return H3G_ERR;
    if (p->tcp && (running_cfg == NULL || !h3g_config_serves(running_cfg, p->la, 0)))
        return h3g_tcp_probe(sa, p->la->len, p->https, err, errlen);
    return 0;
}

static int probe_ports(const struct h3g_config *cfg, const struct h3g_config *running_cfg,
                       char *err, size_t errlen)
{
    struct port_want want[2 * H3G_MAX_LISTEN + 1];
    size_t n = 0;
    for (size_t i = 0; i < cfg->nlisten; i++)
        want[n++] = (struct port_want){&cfg->listen[i], cfg->listen[i].quic,
                                       cfg->listen[i].tcp && !cfg->no_tcp, 1};
    for (size_t i = 0; i < cfg->nredirect; i++)
        want[n++] = (struct port_want){&cfg->redirect[i], 0, 1, 0};
    if (cfg->has_admin)
        want[n++] = (struct port_want){&cfg->admin, 0, 1, 0};
    for (size_t i = 0; i < n; i++)
        if (probe_one(&want[i], running_cfg, err, errlen) != 0)
            return H3G_ERR;
    return 0;
}

/* The configuration checked as -t checks it (in the master, before any
 * worker sees it; a generated certificate is made here, once for all). */
static int check_config(const struct master *m, char *err, size_t errlen)
{
    struct h3g_config check;
    h3g_config_defaults(&check);
    if (h3g_config_parse_args(&check, m->argc, m->argv, err, errlen) != H3G_CONFIG_OK) {
        h3g_config_free(&check);
        return H3G_ERR;
    }
    return h3g_server_check(&check, err, errlen);
}

/* A fresh copy of the configuration, checked. */
static int read_config(struct master *m, struct h3g_config *cfg, char *err, size_t errlen)
{
    h3g_config_defaults(cfg);
    if (h3g_config_parse_args(cfg, m->argc, m->argv, err, errlen) != H3G_CONFIG_OK ||
        check_config(m, err, errlen) != 0) {
        h3g_config_free(cfg);
        return H3G_ERR;
    }
    return 0;
}

static void on_reload(struct master *m)
{
    struct h3g_config cfg;
    char err[1024];
    if (m->stopping) {
        h3g_warn("SIGHUP while shutting down: ignored");
        return;
    }
    h3g_info("SIGHUP: checking the configuration before the workers reload it");
    if (read_config(m, &cfg, err, sizeof(err)) != 0) {
        h3g_err("reload failed, the workers keep their configuration: %s", err);
        return;
    }
    if (probe_ports(&cfg, &m->cfg, err, sizeof(err)) != 0) {
        h3g_config_free(&cfg);
        h3g_err("reload failed, the workers keep their configuration: %s", err);
        return;
    }
    if (h3g_config_workers(&cfg) != m->n)
        h3g_warn("reload: workers changed; that takes a restart (%u stay)", m->n);
    h3g_config_free(&m->cfg);
    m->cfg = cfg;
    char state[64];
    snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)h3g_now_us());
    h3g_sd_notify(state);
    /* a worker still starting reads the new file anyway (its SIGHUP waits) */
    m->reload_failed = 0;
    m->reload_running = 1;
    for (unsigned i = 0; i < m->n; i++)
        m->w[i].reloading = m->w[i].pid != 0 && m->w[i].ready;
    signal_all(m, SIGHUP);
    reload_settle(m, m->n, 1);
}

static void on_signal(int signo, void *arg)
{
    struct master *m = arg;
    switch (signo) {
    case SIGCHLD: reap(m); break;
    case SIGHUP: on_reload(m); break;
    case SIGUSR2: on_upgrade(m); break;
    case SIGUSR1:
        h3g_log_reopen();
        signal_all(m, SIGUSR1);
        h3g_info("SIGUSR1: logs reopened, workers told");
        break;
    default: /* SIGTERM, SIGINT: the workers drain; a second one ends them at once */
        if (!m->stopping)
            h3g_sd_notify("STOPPING=1");
        h3g_info("%s: stopping %u worker(s)%s", signo == SIGINT ? "SIGINT" : "SIGTERM", running(m),
                 m->stopping ? " at once" : " gracefully");
        m->stopping = 1;
        signal_all(m, SIGTERM);
        if (m->next != 0) /* an upgrade not done yet stops too */
            kill(m->next, SIGTERM);
        if (running(m) == 0)
            h3g_loop_stop(m->loop);
    }
}

/* The workers open the access log; that it cannot be opened is said once,
 * here, before any of them starts. */
static int check_access_log(const struct h3g_config *cfg, char *err, size_t errlen)
{
    const char *path = cfg->access_log;
    if (path == NULL || strcmp(path, "-") == 0)
        return 0;
    FILE *f = fopen(path, "ae");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open access log %s: %s", path, strerror(errno));
        return H3G_ERR;
    }
    fclose(f);
    return 0;
}

static int setup(struct master *m, char *err, size_t errlen)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD};
    m->self = getpid();
    /* after an upgrade the old workers hold the ports: the groups are ours */
    if (check_config(m, err, errlen) != 0 ||
        (m->from.pid == 0 && probe_ports(&m->cfg, NULL, err, errlen) != 0) ||
        check_access_log(&m->cfg, err, errlen) != 0)
        return H3G_ERR;
    if (h3g_error_log_open(m->cfg.error_log) != 0) {
        snprintf(err, errlen, "cannot open error log %s: %s", m->cfg.error_log, strerror(errno));
        return H3G_ERR;
    }
    if (strcmp(m->cfg.engine, "ngtcp2") == 0) {
        char why[256];
        if (h3g_steer_setup(&m->cfg, m->from.gen, m->n, why, sizeof(why)) != 0)
            h3g_warn("QUIC datagrams cannot be steered to their worker by connection ID (%s): "
                     "a client that changes address, or a worker started again, may lose its "
                     "connection",
                     why);
    }
    if (h3g_metrics_share(m->n) != 0 || pipe2(m->status, O_CLOEXEC) != 0 ||
        fcntl(m->status[0], F_SETFL, O_NONBLOCK) != 0 || (m->loop = h3g_loop_new()) == NULL) {
        snprintf(err, errlen, "cannot set up the workers: %s", strerror(errno));
        return H3G_ERR;
    }
    for (size_t i = 0; i < H3G_ARRAY_LEN(sigs); i++)
        if (h3g_loop_on_signal(m->loop, sigs[i], on_signal, m) != 0) {
            snprintf(err, errlen, "cannot install signal handlers");
            return H3G_ERR;
        }
    h3g_timer_init(&m->respawn, respawn_tick, m);
    h3g_timer_init(&m->ready_deadline, ready_timeout, m);
    if (h3g_io_start(m->loop, &m->status_io, m->status[0], H3G_IO_READ, on_status, m) != 0 ||
        h3g_privs_pid_file(m->cfg.pid_file, err, errlen) != 0)
        return H3G_ERR;
    return 0;
}

int h3g_master_run(struct h3g_config *cfg, int argc, char **argv, unsigned n,
                   const struct h3g_upgrade_from *from)
{
    static struct master m;
    char err[1024];
    m = (struct master){.argc = argc,
                        .argv = argv,
                        .cfg = *cfg,
                        .n = n,
                        .status = {-1, -1},
                        .from = *from,
                        .next_fd = -1};
    memset(cfg, 0, sizeof(*cfg));
    if (setup(&m, err, sizeof(err)) != 0) {
        fprintf(stderr, "h3gate: %s\n", err);
        m.exit_code = 1;
        goto out;
    }
    for (unsigned i = 0; i < n; i++)
        if (spawn(&m, i) != 0) {
            m.stopping = 1;
            m.exit_code = 1;
            break;
        }
    h3g_timer_start(m.loop, &m.ready_deadline, READY_TIMEOUT_MS);
    if (running(&m) > 0)
        h3g_loop_run(m.loop);
    if (m.exit_code == 0)
        h3g_info("all workers have exited");
    h3g_privs_pid_file_remove();
out:
    signal_all(&m, SIGKILL); /* only if the loop could not run */
    while (running(&m) > 0 && wait(NULL) > 0)
        ;
    h3g_loop_free(m.loop);
    if (m.status[0] >= 0) {
        close(m.status[0]);
        close(m.status[1]);
    }
    h3g_config_free(&m.cfg);
    return m.exit_code;
}

int h3g_worker_main(struct h3g_config *cfg, int argc, char **argv, const struct h3g_worker *w)
{
    static struct h3g_server srv;
    char err[1024];
    int rc = 1;
    if (h3g_server_start(&srv, cfg, argc, argv, w, err, sizeof(err)) != 0) {
        fprintf(stderr, "h3gate: worker %u: %s\n", w->index, err);
    } else {
        h3g_server_report(&srv, H3G_WMSG_READY, 1);
        rc = h3g_server_run(&srv) == 0 ? 0 : 1;
    }
    h3g_server_free(&srv);
    return rc;
}
