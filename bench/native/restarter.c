/*
 * The floor for a mass restart (bench/restart-latency.js, scale mode): a supervisor of M
 * `sleep 1000` written in C that does nothing but start again, at once, each one that ends — THREADS
 * threads each wait for any child (waitpid(-1)) and start its replacement (vfork, setsid, exec). No
 * policy, no log, no state. The benchmark kills M of its sleeps exactly as it kills armsd's and sees
 * the replacements the same way, so the kills, the exits and the detection weigh on both alike:
 * what is left between them is what armsd's supervision costs.
 *   restarter M THREADS SLEEP-PATH
 * SIGTERM: kills every sleep it started and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "start-sleep.h"

static const char *sleep_path;
static int count;
static pid_t *pids;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t stopping;

static void *reaper(void *arg) {
    (void)arg;
    for (;;) {
        pid_t pid = waitpid(-1, NULL, 0);
        if (pid < 0) {
            if (errno == ECHILD) usleep(1000);
            continue;
        }
        if (stopping) continue;
        pthread_mutex_lock(&lock);
        int slot = -1;
        for (int i = 0; i < count && slot < 0; i++)
            if (pids[i] == pid) slot = i;
        if (slot >= 0) pids[slot] = 0;
        pthread_mutex_unlock(&lock);
        if (slot < 0) continue;
        pid_t next = start_sleep(sleep_path);
        pthread_mutex_lock(&lock);
        pids[slot] = next;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: restarter M THREADS SLEEP-PATH\n");
        return 2;
    }
    count = atoi(argv[1]);
    int threads = atoi(argv[2]);
    sleep_path = argv[3];
    if (count < 1 || threads < 1 || threads > 16) return 2;
    pids = calloc((size_t)count, sizeof *pids);
    if (!pids) return 1;
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, NULL); /* every thread inherits it: only sigwait below takes it */
    for (int i = 0; i < count; i++) pids[i] = start_sleep(sleep_path);
    for (int k = 0; k < threads; k++) {
        pthread_t t;
        if (pthread_create(&t, NULL, reaper, NULL) != 0) return 1;
    }
    printf("started %d\n", count);
    fflush(stdout);
    int sig;
    sigwait(&term, &sig);
    stopping = 1;
    /* a start under way when the signal came is stored within a few ms */
    struct timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    pthread_mutex_lock(&lock);
    for (int i = 0; i < count; i++)
        if (pids[i] > 0) kill(pids[i], SIGKILL);
    pthread_mutex_unlock(&lock);
    return 0;
}
