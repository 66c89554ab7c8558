/* sweeper.c -- background reclamation, after the background collectors
 * of object databases: foreground commits reclaim a few expired records
 * each (store_put), and this thread sweeps what idle periods leave. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "../fcgi/stats.h"
#include "sweeper.h"

/* Stale reader slots are rare (a worker killed inside a read), so they
 * are looked for every this many sweeps rather than every time. */
#define READERS_EVERY 10

struct sweeper {
    struct store *st;
    uint64_t interval_ms;
    unsigned batch;
    struct stats *stats;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping;
};

static uint64_t now_ms(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sleeps one interval; 0 when woken to stop. */
static int sweeper_wait(struct sweeper *sw)
{
    uint64_t until = now_ms(CLOCK_MONOTONIC) + sw->interval_ms;
    struct timespec ts = {(time_t)(until / 1000), (long)(until % 1000) * 1000000};
    int stopping;

    pthread_mutex_lock(&sw->lock);
    while (!sw->stopping &&
           pthread_cond_timedwait(&sw->wake, &sw->lock, &ts) != ETIMEDOUT)
        ;
    stopping = sw->stopping;
    pthread_mutex_unlock(&sw->lock);
    return !stopping;
}

static void *sweeper_main(void *arg)
{
    struct sweeper *sw = arg;
    unsigned round = 0, reclaimed;

    while (sweeper_wait(sw)) {
        uint64_t wall = now_ms(CLOCK_REALTIME);
        if (store_sweep(sw->st, wall / 1000, wall, sw->interval_ms, sw->batch,
                        &reclaimed) == STORE_OK && reclaimed)
            stats_add(sw->stats, STAT_RECLAIMED, reclaimed);
        if (++round % READERS_EVERY == 0)
            store_readers_check(sw->st);
    }
    return NULL;
}

struct sweeper *sweeper_start(struct store *st, uint64_t interval_ms,
                              unsigned batch, struct stats *stats)
{
    struct sweeper *sw = calloc(1, sizeof *sw);
    pthread_condattr_t ca;
    sigset_t all, old;
    int rc;

    if (sw == NULL)
        return NULL;
    sw->st = st;
    sw->interval_ms = interval_ms;
    sw->batch = batch;
    sw->stats = stats;
    pthread_mutex_init(&sw->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sw->wake, &ca);
    pthread_condattr_destroy(&ca);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&sw->thread, NULL, sweeper_main, sw);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&sw->wake);
        pthread_mutex_destroy(&sw->lock);
        free(sw);
        return NULL;
    }
    return sw;
}

void sweeper_stop(struct sweeper *sw)
{
    if (sw == NULL)
        return;
    pthread_mutex_lock(&sw->lock);
    sw->stopping = 1;
    pthread_cond_signal(&sw->wake);
    pthread_mutex_unlock(&sw->lock);
    pthread_join(sw->thread, NULL);
    pthread_cond_destroy(&sw->wake);
    pthread_mutex_destroy(&sw->lock);
    free(sw);
}
