/* fd_close.h: closing every inherited descriptor in a child between fork() and execve().
 *
 * The plugin's helper and rendezvous launchers and lcrd's replacement launcher keep a few
 * low descriptors and must close all others, or a descriptor of slurmstepd, srun or lcrd
 * (a socket, a key, another user's file) would live on in the program they execute.
 * close_range(2) does it in one call; where it fails (a kernel before 5.9, a seccomp filter
 * that refuses it) the descriptors listed in /proc/self/fd are closed one by one, and
 * without /proc every number up to the hard RLIMIT_NOFILE.
 *
 * Only system calls on stack memory: safe after fork() in a process with threads. */
#ifndef LCR_INTERNAL_FD_CLOSE_H
#define LCR_INTERNAL_FD_CLOSE_H

/* Closes every descriptor numbered lowest or above, except keep (-1: none). 0 or -errno. */
int fd_close_from(int lowest, int keep);

/* The fallback on its own, for the tests: the same, without trying close_range. */
int fd_close_from_listing(int lowest, int keep);

#endif
