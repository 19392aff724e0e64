package org.tensorbuffer.memory;

import java.util.concurrent.locks.ReentrantLock;

/**
 * One thread's private cache of free blocks for one {@link BufferPool}, as jemalloc's tcache and Netty's
 * {@code PoolThreadCache}: the pool's hit path pops and pushes here without any lock or atomic. Counters are written
 * by the owning thread only and summed by the pool when a snapshot is taken.
 *
 * <p>A <em>shared</em> cache ({@link #lock} not null, {@link #thread} null) serves virtual threads instead: the pool
 * keeps a fixed number of them and picks one by thread id; every access to it, including the counters, holds its
 * lock.
 */
final class ThreadCache {
    /** The owning platform thread; null for a shared cache. */
    final Thread thread;
    /** Guards a shared cache (taken before the pool's lock); null for a thread's own cache. */
    final ReentrantLock lock;
    final Block[][] stacks = new Block[SizeClasses.COUNT][];
    final int[] counts = new int[SizeClasses.COUNT];
    final long[] classRequests = new long[SizeClasses.COUNT];
    final long[] classHits = new long[SizeClasses.COUNT];
    long cachedBytes;
    /**
     * Bytes of the pool's budget granted to this cache (guarded by the pool's lock; read by the owner): the cache
     * never holds more, so the pool's cached bytes stay within its budget without a shared counter on the hit path.
     */
    long allowance;
    long requests;
    long hits;
    long tookBytes;
    long returnedBytes;
    long peakNetBytes;
    /** Set by other threads when the pool wants this cache emptied (out of memory, budget, close). */
    volatile boolean flushRequested;

    ThreadCache(Thread thread) {
        this.thread = thread;
        this.lock = null;
    }

    /** A shared cache for virtual threads. */
    ThreadCache() {
        this.thread = null;
        this.lock = new ReentrantLock();
    }

    /** Whether the owner of this cache has terminated (never for a shared cache). */
    boolean ownerDead() {
        return thread != null && !thread.isAlive(); // thread termination happens-before isAlive() returning false
    }

    /** Maximum blocks of class {@code index} a thread cache keeps: 4 MiB worth, between 1 and 64. */
    static int capacity(int index) {
        long n = (4L << 20) / SizeClasses.size(index);
        return (int) Math.max(1, Math.min(64, n));
    }

    Block pop(int index) {
        int c = counts[index];
        if (c == 0) {
            return null;
        }
        Block[] s = stacks[index];
        Block b = s[--c];
        s[c] = null;
        counts[index] = c;
        cachedBytes -= b.capacity;
        return b;
    }

    boolean push(Block b) {
        int index = b.sizeClass;
        int c = counts[index];
        Block[] s = stacks[index];
        if (s == null) {
            s = stacks[index] = new Block[capacity(index)];
        }
        if (c == s.length || cachedBytes + b.capacity > allowance) {
            return false;
        }
        s[c] = b;
        counts[index] = c + 1;
        cachedBytes += b.capacity;
        return true;
    }

    long netBytes() {
        return tookBytes - returnedBytes;
    }
}
