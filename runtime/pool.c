/* pool.c — parallel-for dispatch: inline, an application hook, per-call threads, or a
 * persistent kiln_pool.  Every strategy splits [0, n) into at most nthreads contiguous,
 * near-equal slices; slice 0 always runs on the calling thread. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <pthread.h>
#include <stdlib.h>

#include "kiln_rt.h"

/* Slice t of nt over [0, n): [*b, *e). */
static void
slice(int64_t n, int nt, int t, int64_t *b, int64_t *e)
{
    int64_t q = n / nt, r = n % nt;

    *b = t * q + (t < r ? t : r);
    *e = *b + q + (t < r);
}

/* ---- per-call threads (kiln_parallel_for default) ---- */

typedef struct {
    kiln_task_fn fn;
    void *arg;
    int64_t b, e;
} Slice;

static void *
run_slice(void *p)
{
    Slice *s = p;

    s->fn(s->arg, s->b, s->e);
    return NULL;
}

/* Spawn nt - 1 threads for slices 1..nt-1; a slice whose thread fails runs inline. */
static void
spawn_for(int nt, int64_t n, kiln_task_fn fn, void *arg)
{
    pthread_t tid[64];
    Slice s[64];
    int started[64];

    if (nt > 64)
        nt = 64;
    for (int t = 0; t < nt; t++) {
        s[t] = (Slice){fn, arg, 0, 0};
        slice(n, nt, t, &s[t].b, &s[t].e);
        started[t] = t > 0 && pthread_create(&tid[t], NULL, run_slice, &s[t]) == 0;
    }
    for (int t = 0; t < nt; t++)
        if (!started[t])
            run_slice(&s[t]);
    for (int t = 1; t < nt; t++)
        if (started[t])
            pthread_join(tid[t], NULL);
}

void
kiln_parallel_for(const kiln_run_opts *opts, int64_t n, kiln_task_fn fn, void *arg)
{
    if (n <= 0)
        return;
    if (opts && opts->parallel_for) {
        opts->parallel_for(opts->parallel_ctx, n, fn, arg);
        return;
    }
    if (!opts || opts->nthreads <= 1 || n == 1) {
        fn(arg, 0, n);
        return;
    }
    spawn_for(n < opts->nthreads ? (int)n : opts->nthreads, n, fn, arg);
}

/* ---- persistent pool ---- */

struct kiln_pool {
    int nthreads;            /* ways each loop is split; workers = nthreads - 1 */
    pthread_t *workers;      /* nthreads - 1 handles */
    pthread_mutex_t busy;    /* held by the thread whose loop owns the pool */
    pthread_mutex_t mu;      /* guards everything below */
    pthread_cond_t go;       /* workers wait here for a new generation or stop */
    pthread_cond_t done;     /* the caller waits here for pending == 0 */
    uint64_t gen;            /* bumped once per loop */
    int pending;             /* workers yet to finish this generation */
    int stop;                /* 1 = workers exit */
    int nt;                  /* slices in the current loop (<= nthreads) */
    int64_t n;               /* current loop's range */
    kiln_task_fn fn;         /* current loop's body */
    void *arg;               /* current loop's argument */
};

/* Worker t (1..nthreads-1) thread argument. */
typedef struct {
    kiln_pool *pool;
    int t;
} Worker;

static void *
worker_main(void *p)
{
    Worker w = *(Worker *)p;
    kiln_pool *pl = w.pool;
    uint64_t seen = 0;
    int64_t b, e;

    free(p);
    pthread_mutex_lock(&pl->mu);
    for (;;) {
        while (!pl->stop && pl->gen == seen)
            pthread_cond_wait(&pl->go, &pl->mu);
        if (pl->stop)
            break;
        seen = pl->gen;
        if (w.t < pl->nt) {
            slice(pl->n, pl->nt, w.t, &b, &e);
            pthread_mutex_unlock(&pl->mu);
            pl->fn(pl->arg, b, e);
            pthread_mutex_lock(&pl->mu);
        }
        if (--pl->pending == 0)
            pthread_cond_signal(&pl->done);
    }
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

/* Stop and join the first nw workers; destroy sync objects; free. */
static void
pool_destroy(kiln_pool *pl, int nw)
{
    pthread_mutex_lock(&pl->mu);
    pl->stop = 1;
    pthread_cond_broadcast(&pl->go);
    pthread_mutex_unlock(&pl->mu);
    for (int i = 0; i < nw; i++)
        pthread_join(pl->workers[i], NULL);
    pthread_cond_destroy(&pl->done);
    pthread_cond_destroy(&pl->go);
    pthread_mutex_destroy(&pl->mu);
    pthread_mutex_destroy(&pl->busy);
    free(pl->workers);
    free(pl);
}

kiln_pool *
kiln_pool_new(int nthreads)
{
    kiln_pool *pl;
    Worker *w;

    if (nthreads < 1 || !(pl = calloc(1, sizeof *pl)))
        return NULL;
    pl->nthreads = nthreads;
    pl->workers = calloc((size_t)nthreads, sizeof *pl->workers);
    if (!pl->workers) {
        free(pl);
        return NULL;
    }
    pthread_mutex_init(&pl->busy, NULL);
    pthread_mutex_init(&pl->mu, NULL);
    pthread_cond_init(&pl->go, NULL);
    pthread_cond_init(&pl->done, NULL);
    for (int i = 0; i < nthreads - 1; i++) {
        if (!(w = malloc(sizeof *w)) ||
            (*w = (Worker){pl, i + 1}, pthread_create(&pl->workers[i], NULL, worker_main, w))) {
            free(w);
            pool_destroy(pl, i);
            return NULL;
        }
    }
    return pl;
}

void
kiln_pool_free(kiln_pool *pool)
{
    if (pool)
        pool_destroy(pool, pool->nthreads - 1);
}

void
kiln_pool_parallel_for(void *ctx, int64_t n, kiln_task_fn fn, void *arg)
{
    kiln_pool *pl = ctx;
    int64_t b, e;

    if (n <= 0)
        return;
    /* busy pool (other caller, or nested call from a task): run inline, never deadlock */
    if (!pl || pl->nthreads == 1 || n == 1 || pthread_mutex_trylock(&pl->busy) != 0) {
        fn(arg, 0, n);
        return;
    }
    pthread_mutex_lock(&pl->mu);
    pl->nt = n < pl->nthreads ? (int)n : pl->nthreads;
    pl->n = n;
    pl->fn = fn;
    pl->arg = arg;
    pl->pending = pl->nthreads - 1;
    pl->gen++;
    pthread_cond_broadcast(&pl->go);
    pthread_mutex_unlock(&pl->mu);
    slice(n, pl->nt, 0, &b, &e);
    fn(arg, b, e);
    pthread_mutex_lock(&pl->mu);
    while (pl->pending > 0)
        pthread_cond_wait(&pl->done, &pl->mu);
    pthread_mutex_unlock(&pl->mu);
    pthread_mutex_unlock(&pl->busy);
}
