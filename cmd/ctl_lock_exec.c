/* batonctl lock exec: run a command while holding a lock, and stop it when the lease is lost. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_baton.h"

extern char **environ;

#define EXEC_TTL_DEFAULT_MS 10000
#define EXEC_GRACE_DEFAULT_MS 5000
/* "No --wait": wait for the lock as long as it takes (a year at a time). */
#define EXEC_WAIT_FOREVER_MS (365ull * 24 * 3600 * 1000)
#define CTL_MS_MAX 315360000000ull

/* Signals are written to a pipe by the handler and read on the loop: one byte,
 * the signal number, with FROM_TTY set when the kernel sent it (a terminal's
 * ^C, which the command, in the same foreground process group, got too). */
#define FROM_TTY 0x80
static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig, siginfo_t *info, void *uctx)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (info != NULL && info->si_code > 0) {
        b |= FROM_TTY;
    }
    if (write(sig_pipe[1], &b, 1) < 0) {
        /* A full pipe already holds a signal to act on. */
    }
    errno = saved;
}

struct exec_run {
    struct ctl_ctx *ctx;
    struct ctl_baton b;
    const char *name;
    uint64_t ttl_ms, wait_ms, grace_ms;
    char **argv;
    struct baton_lease lease;
    uint64_t token;
    struct baton_keeper *keeper;
    int lost_why;        /* the lease is lost: BATON_EEXPIRED or BATON_ETIMEDOUT */
    int interrupted;     /* a signal that came before the command ran */
    uv_poll_t sig_poll;
    uv_process_t proc;
    bool running;
    bool killed;         /* SIGKILL sent after the grace period */
    int64_t exit_status;
    int term_signal;
    uv_timer_t grace;
    struct ctl_answer acq; /* the acquire's answer, which may come after we stop waiting */
};

static int install_signals(void)
{
    if (pipe(sig_pipe) != 0) {
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(sig_pipe[i], F_SETFL, fcntl(sig_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        sigaction(sigs[i], &sa, NULL);
    }
    return 0;
}

static void grace_cb(uv_timer_t *t)
{
    struct exec_run *r = t->data;
    if (r->running) {
        fprintf(stderr, "batonctl: lock exec: the command ignored SIGTERM for %llu ms; "
                        "sending SIGKILL\n", (unsigned long long)r->grace_ms);
        r->killed = true;
        uv_process_kill(&r->proc, SIGKILL);
    }
}

/* The lease is gone: whatever the command does from now on is unprotected. */
static void lost_cb(struct baton_keeper *k, uint64_t lease, int why, void *arg)
{
    struct exec_run *r = arg;
    r->lost_why = why;
    fprintf(stderr, "batonctl: lock exec: lease %llu of lock %s is lost (%s)%s\n",
            (unsigned long long)lease, r->name,
            why == BATON_EEXPIRED ? "the cluster says it expired"
                                  : "no keepalive was acknowledged in time",
            r->running ? "; stopping the command (SIGTERM)" : "");
    if (r->running) {
        uv_process_kill(&r->proc, SIGTERM);
        uv_timer_start(&r->grace, grace_cb, r->grace_ms, 0);
    }
}

static void sig_poll_cb(uv_poll_t *h, int status, int events)
{
    struct exec_run *r = h->data;
    unsigned char b;
    while (read(sig_pipe[0], &b, 1) == 1) {
        int sig = b & ~FROM_TTY;
        if (!r->running) {
            r->interrupted = r->interrupted ? r->interrupted : sig;
        } else if ((b & FROM_TTY) == 0) {
            uv_process_kill(&r->proc, sig); /* sent to us alone: pass it on */
        }
    }
}

static void exit_cb(uv_process_t *p, int64_t exit_status, int term_signal)
{
    struct exec_run *r = p->data;
    r->running = false;
    r->exit_status = exit_status;
    r->term_signal = term_signal;
    uv_timer_stop(&r->grace);
    uv_close((uv_handle_t *)p, NULL);
}

/* Grants the lease, keeps it alive and acquires the lock, waiting until granted,
 * refused or interrupted by a signal. 0, or an exit code after saying why. */
static int acquire(struct exec_run *r)
{
    struct ctl_answer a;
    ctl_answer_init(&a);
    /* Not interruptible: a grant is short, and its lease must be known to be revoked. */
    int rv = ctl_baton_wait(&r->b, &a, baton_async_lease_grant(r->b.client, r->ttl_ms,
                                                               ctl_left_ms(r->ctx),
                                                               ctl_answer_cb, &a));
    if (rv != 0) {
        return ctl_report(rv, a.msg, ctl_exit_for_err(rv), "lock exec: lease grant");
    }
    r->lease = a.res.lease;
    rv = baton_async_lease_keep(r->b.client, &r->lease, lost_cb, r, &r->keeper);
    if (rv != 0) {
        return ctl_report(rv, NULL, CTL_EXIT_UNAVAILABLE, "lock exec: keeping the lease alive");
    }
    ctl_answer_init(&r->acq);
    rv = baton_async_lock_acquire(r->b.client, r->name, r->lease.id, r->wait_ms, 0,
                                  ctl_left_ms(r->ctx), ctl_answer_cb, &r->acq);
    /* A lease lost while queued ends the wait: a grant to it would protect
     * nothing, and with no --wait limit the acquire might never be answered. */
    while (rv == 0 && !r->acq.done && r->interrupted == 0 && r->lost_why == 0) {
        uv_run(r->b.loop, UV_RUN_ONCE);
    }
    rv = rv != 0 ? rv : r->acq.err;
    if (r->interrupted) {
        return 128 + r->interrupted; /* revoking the lease takes it out of the queue */
    }
    if ((rv == 0 || !r->acq.done) &&
        (r->lost_why != 0 || baton_keeper_deadline(r->keeper) <= baton_now_ms())) {
        fprintf(stderr, "batonctl: lock exec: the lease was lost while waiting for lock %s; "
                        "not running the command\n", r->name);
        return CTL_EXIT_UNAVAILABLE;
    }
    if (rv == BATON_ELOCKED) {
        fprintf(stderr, "batonctl: lock exec: lock %s not acquired within %llu ms\n", r->name,
                (unsigned long long)r->wait_ms);
        return CTL_EXIT_NO;
    }
    if (rv != 0) {
        /* Our own lease expiring while we wait means the cluster was unreachable. */
        return ctl_report(rv, r->acq.msg,
                          rv == BATON_EEXPIRED ? CTL_EXIT_UNAVAILABLE : ctl_exit_for_err(rv),
                          "lock exec: lock acquire %s", r->name);
    }
    r->token = r->acq.res.token;
    return 0;
}

/* environ without BATON_FENCING_TOKEN, BATON_LEASE and BATON_LOCK, plus ours
 * (strings in vars, 3 of them). NULL when out of memory. */
static char **command_env(char vars[3][320])
{
    size_t n = 0;
    while (environ[n] != NULL) {
        n++;
    }
    char **env = calloc(n + 4, sizeof(*env));
    if (env == NULL) {
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "BATON_FENCING_TOKEN=", 20) != 0 &&
            strncmp(environ[i], "BATON_LEASE=", 12) != 0 &&
            strncmp(environ[i], "BATON_LOCK=", 11) != 0) {
            env[k++] = environ[i];
        }
    }
    for (int i = 0; i < 3; i++) {
        env[k++] = vars[i];
    }
    return env;
}

/* Starts the command. 0, or the shell's exit code for a command that cannot run
 * (127 not found, 126 otherwise) after saying why. */
static int spawn(struct exec_run *r)
{
    char vars[3][320];
    snprintf(vars[0], sizeof(vars[0]), "BATON_FENCING_TOKEN=%llu", (unsigned long long)r->token);
    snprintf(vars[1], sizeof(vars[1]), "BATON_LEASE=%llu", (unsigned long long)r->lease.id);
    snprintf(vars[2], sizeof(vars[2]), "BATON_LOCK=%.255s", r->name);
    char **env = command_env(vars);
    if (env == NULL) {
        return ctl_report(BATON_ENOMEM, NULL, 126, "lock exec");
    }
    uv_stdio_container_t stdio[3];
    for (int i = 0; i < 3; i++) {
        stdio[i].flags = UV_INHERIT_FD;
        stdio[i].data.fd = i;
    }
    uv_process_options_t opt;
    memset(&opt, 0, sizeof(opt));
    opt.file = r->argv[0];
    opt.args = r->argv;
    opt.env = env;
    opt.exit_cb = exit_cb;
    opt.stdio = stdio;
    opt.stdio_count = 3;
    r->proc.data = r;
    int rv = uv_spawn(r->b.loop, &r->proc, &opt);
    free(env);
    if (rv != 0) {
        fprintf(stderr, "batonctl: lock exec: cannot run %s: %s\n", r->argv[0], uv_strerror(rv));
        uv_close((uv_handle_t *)&r->proc, NULL);
        return rv == UV_ENOENT ? 127 : 126;
    }
    r->running = true;
    return 0;
}

/* Stops the keeper, releases the lock and revokes the lease, each with a fresh
 * --timeout; failures are reported but change nothing (the lease expires anyway). */
static void let_go(struct exec_run *r, bool release)
{
    if (r->keeper != NULL) {
        baton_keeper_stop(r->keeper);
        r->keeper = NULL;
    }
    if (r->lease.id == 0) {
        return;
    }
    struct ctl_answer a;
    int rv = 0;
    if (release) {
        ctl_answer_init(&a);
        rv = ctl_baton_wait(&r->b, &a, baton_async_lock_release(r->b.client, r->name,
                                                                r->lease.id,
                                                                (uint64_t)r->ctx->timeout_ms,
                                                                ctl_answer_cb, &a));
    }
    struct ctl_answer v;
    ctl_answer_init(&v);
    int rv2 = ctl_baton_wait(&r->b, &v, baton_async_lease_revoke(r->b.client, r->lease.id,
                                                                 (uint64_t)r->ctx->timeout_ms,
                                                                 ctl_answer_cb, &v));
    /* A lease already gone, or a lock already free or handed on, is what we
     * wanted; otherwise the lease (and any wait it queued) ends at its TTL. */
    bool lease_gone = rv2 == 0 || rv2 == BATON_EEXPIRED;
    bool lock_gone = release && (rv == 0 || rv == BATON_ENOTFOUND || rv == BATON_ELOCKED ||
                                 rv == BATON_EEXPIRED);
    if (!lease_gone && !lock_gone) {
        ctl_report(rv2, v.msg, 0, "lock exec: releasing lock %s (lease %llu expires by itself)",
                   r->name, (unsigned long long)r->lease.id);
    }
}

/* The exit code after the command ran: 3 when the lease was lost under it. */
static int command_exit(const struct exec_run *r)
{
    if (r->lost_why != 0) {
        return CTL_EXIT_UNAVAILABLE;
    }
    if (r->term_signal != 0) {
        return 128 + r->term_signal;
    }
    return (int)(r->exit_status & 0xff);
}

static int exec_parse(struct ctl_ctx *ctx, int argc, char **argv, struct exec_run *r)
{
    bool has_wait = false;
    const struct ctl_flag flags[] = {
        {"--ttl", &r->ttl_ms, 1, CTL_MS_MAX, NULL},
        {"--wait", &r->wait_ms, 0, CTL_MS_MAX, &has_wait},
        {"--grace", &r->grace_ms, 0, CTL_MS_MAX, NULL},
    };
    char *pos[1];
    int n_pos, rest;
    r->ttl_ms = EXEC_TTL_DEFAULT_MS;
    r->grace_ms = EXEC_GRACE_DEFAULT_MS;
    int rv = ctl_args(ctx, argc, argv, flags, 3, pos, 1, 1, &n_pos, &rest);
    if (rv != 0) {
        return rv;
    }
    if (rest < 0 || rest >= argc) {
        return ctl_usage_error(ctx, "give the command after '--'");
    }
    r->name = pos[0];
    r->argv = argv + rest;
    r->wait_ms = has_wait ? r->wait_ms : EXEC_WAIT_FOREVER_MS;
    return 0;
}

int ctl_lock_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
    static struct exec_run r; /* handles live on the loop: not on the stack */
    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    int rv = exec_parse(ctx, argc, argv, &r);
    if (rv != 0) {
        return rv;
    }
    if (install_signals() != 0) {
        return ctl_report(BATON_EIO, strerror(errno), CTL_EXIT_UNAVAILABLE, "lock exec");
    }
    if ((rv = ctl_baton_open(ctx, NULL, &r.b)) != 0) {
        return rv;
    }
    uv_poll_init(r.b.loop, &r.sig_poll, sig_pipe[0]);
    r.sig_poll.data = &r;
    uv_poll_start(&r.sig_poll, UV_READABLE, sig_poll_cb);
    uv_timer_init(r.b.loop, &r.grace);
    r.grace.data = &r;
    int code = acquire(&r);
    if (code == 0) {
        code = spawn(&r);
    }
    if (code == 0) {
        while (r.running) {
            uv_run(r.b.loop, UV_RUN_ONCE);
        }
        code = command_exit(&r);
    }
    /* A lost lease may still stand in the cluster: revoking it frees the lock as
     * well, so that is all that is left to do then. */
    let_go(&r, r.token != 0 && r.lost_why == 0);
    uv_close((uv_handle_t *)&r.sig_poll, NULL);
    uv_close((uv_handle_t *)&r.grace, NULL);
    ctl_baton_close(&r.b);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        signal(sigs[i], SIG_DFL);
    }
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    return code;
}
