package org.tensorbuffer.memory;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import javax.management.ObjectName;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.leak.LeakDetector;

/**
 * The reactive pool: a caching allocator over one {@link Device}. Requests are rounded to {@link SizeClasses}; a
 * released block goes to a free list of its class instead of back to the device, and the next request of that class
 * takes it again.
 *
 * <h2>Structure</h2>
 * <ul>
 *   <li>Per-thread caches ({@link ThreadCache}): up to 64 free blocks per class and {@code maxThreadCacheBytes} per
 *       thread. The hit path ({@link #take} then {@link Block#release()} on the same thread) touches only these: no
 *       lock, no shared atomic, no Java heap allocation.</li>
 *   <li>A shared tier under one lock: a free list per class (most recently used first) and one LRU list over all
 *       classes. Blocks overflow into it from thread caches and are taken from it when a thread cache is empty.</li>
 *   <li>Limits: at most {@code maxBlocksPerClass} free blocks per class in the shared tier, and at most
 *       {@code maxCachedBytes} cached bytes in all (default 512 MiB, or {@code TENSORBUFFER_POOL_MAX_MB}); beyond
 *       them the least recently used blocks are freed (evicted).</li>
 *   <li>Out of memory: if the device cannot allocate, the pool frees every cached block it can reach (the shared tier
 *       and the calling thread's cache; other threads empty theirs at their next call), retries once, and then throws
 *       {@link PoolOutOfMemoryException} with the requested, live, cached and limit bytes.</li>
 * </ul>
 * A thread that dies leaves its cache behind; the pool moves those blocks to the shared tier the next time it takes
 * the slow path or a snapshot.
 *
 * <p>Thread-safe. A block may be released on another thread than the one that took it (it then lands in that thread's
 * cache). {@link #close()} must not race with other calls.
 */
public final class BufferPool extends BlockOwner implements AutoCloseable {
    /** Default cached-bytes budget: 512 MiB, as the design notes' {@code TL_BUFFER_MAX_MB}. */
    public static final long DEFAULT_MAX_CACHED_BYTES = 512L << 20;
    /** Default cap on free blocks per size class in the shared tier. */
    public static final int DEFAULT_MAX_BLOCKS_PER_CLASS = 256;

    private final Device device;
    private final String name;
    private final long maxCachedBytes;
    private final int maxBlocksPerClass;
    private final long maxThreadCacheBytes;
    private final ThreadLocal<ThreadCache> threadCache = ThreadLocal.withInitial(this::registerThreadCache);

    private final ReentrantLock lock = new ReentrantLock();
    // --- guarded by lock ---
    private final Block[] classHead = new Block[SizeClasses.COUNT];
    private final Block[] classTail = new Block[SizeClasses.COUNT];
    private final int[] classCount = new int[SizeClasses.COUNT];
    private Block lruHead;
    private Block lruTail;
    private long sharedCachedBytes;
    /** Sum of the thread caches' allowances: {@code sharedCachedBytes + allowanceTotal <= maxCachedBytes}. */
    private long allowanceTotal;
    private long reservedBytes;
    private long peakReservedBytes;
    private long rawAllocations;
    private long rawFrees;
    private long evictions;
    private long misses;
    private long sharedHits;
    private long allocRetries;
    private long ooms;
    private long slowPaths;
    private final List<ThreadCache> caches = new ArrayList<>();
    private final Set<Block> allBlocks = Collections.newSetFromMap(new IdentityHashMap<>());
    private long retiredRequests;
    private long retiredHits;
    private long retiredNetBytes;
    private long retiredPeakBytes;
    private volatile boolean closed;
    private final DeviceAllocator allocator;
    private final ObjectName objectName;

    private BufferPool(Builder b) {
        this.device = b.device;
        this.name = b.name;
        this.allocator = deviceAllocator(device, b.alignment);
        this.maxCachedBytes = b.maxCachedBytes;
        this.maxBlocksPerClass = b.maxBlocksPerClass;
        this.maxThreadCacheBytes = b.maxThreadCacheBytes >= 0 ? b.maxThreadCacheBytes
                : Math.min(maxCachedBytes / 8, 64L << 20);
        this.objectName = MemoryMBeans.register(this);
    }

    /** A builder for a pool over {@code device}. */
    public static Builder builder(Device device) {
        return new Builder(device);
    }

    /** A pool over {@code device} with the default limits. */
    public static BufferPool of(Device device) {
        return builder(device).build();
    }

    /** The device the pool allocates from. */
    public Device device() {
        return device;
    }

    /** The pool's name (for statistics, JMX and logs). */
    public String name() {
        return name;
    }

    /** The cached-bytes budget. */
    public long maxCachedBytes() {
        return maxCachedBytes;
    }

    /**
     * A block of at least {@code bytes} bytes (rounded up to its size class), with reference count 1. Uninitialised:
     * it may hold the data of its previous user.
     *
     * @throws IllegalArgumentException  if {@code bytes} is negative
     * @throws PoolOutOfMemoryException  if the device has no memory even after the caches were emptied
     * @throws IllegalStateException     if the pool is closed
     */
    public Block take(long bytes) {
        int index = SizeClasses.index(bytes);
        ThreadCache tc = threadCache.get();
        tc.requests++;
        tc.classRequests[index]++;
        Block b = tc.pop(index);
        if (b == null) {
            b = takeSlow(tc, index);
        } else {
            tc.hits++;
            tc.classHits[index]++;
        }
        long net = (tc.tookBytes += b.capacity) - tc.returnedBytes;
        if (net > tc.peakNetBytes) {
            tc.peakNetBytes = net;
        }
        b.acquire();
        return b;
    }

    private Block takeSlow(ThreadCache tc, int index) {
        if (tc.flushRequested) {
            flush(tc);
        }
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException(describe() + " is closed");
            }
            if ((++slowPaths & 63) == 0) {
                reapDeadThreads();
            }
            Block b = classHead[index];
            if (b != null) {
                unlinkShared(b);
                sharedHits++;
                tc.hits++;
                tc.classHits[index]++;
                return b;
            }
            misses++;
            return allocateRaw(tc, index);
        } finally {
            lock.unlock();
        }
    }

    /** Allocates a new block of class {@code index} from the device; on out-of-memory empties caches and retries. */
    private Block allocateRaw(ThreadCache tc, int index) {
        long size = SizeClasses.size(index);
        DeviceBuffer buf;
        try {
            buf = allocator.allocate(size, () -> {
                allocRetries++;
                releaseAllCachedLocked(tc);
            }, this::liveBytesLocked, () -> reservedBytes);
        } catch (PoolOutOfMemoryException e) {
            ooms++;
            throw e;
        }
        rawAllocations++;
        reservedBytes += size;
        if (reservedBytes > peakReservedBytes) {
            peakReservedBytes = reservedBytes;
        }
        Block b = new Block(buf, size, index, this);
        allBlocks.add(b);
        return b;
    }

    /** Called by {@link Block#release()} when the last reference is gone. */
    @Override
    protected void recycle(Block b) {
        ThreadCache tc = threadCache.get();
        tc.returnedBytes += b.capacity;
        if (!tc.flushRequested && !closed && tc.push(b)) {
            return;
        }
        recycleSlow(tc, b);
    }

    /** Allowance granted to a thread cache at a time (at least the block being pushed). */
    private static final long ALLOWANCE_CHUNK = 256 << 10;

    private void recycleSlow(ThreadCache tc, Block b) {
        if (tc.flushRequested) {
            flush(tc);
        }
        lock.lock();
        try {
            if (closed || b.retired) {
                freeRaw(b);
                return;
            }
            if (!tc.flushRequested && growAllowanceLocked(tc, b.capacity) && tc.push(b)) {
                return;
            }
            pushShared(b);
            enforceLimitsLocked(b.sizeClass);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Grants {@code tc} enough budget for {@code bytes} more cached bytes, evicting least recently used shared blocks
     * to make room; false if the thread cache may not grow (its cap, or the budget).
     */
    private boolean growAllowanceLocked(ThreadCache tc, long bytes) {
        long need = tc.cachedBytes + bytes - tc.allowance;
        if (need <= 0) {
            return true;
        }
        long target = Math.min(maxThreadCacheBytes, tc.cachedBytes + Math.max(bytes, ALLOWANCE_CHUNK));
        long grant = target - tc.allowance;
        if (grant < need) {
            return false;
        }
        while (sharedCachedBytes + allowanceTotal + grant > maxCachedBytes && lruTail != null) {
            evictLocked(lruTail);
        }
        if (sharedCachedBytes + allowanceTotal + grant > maxCachedBytes) {
            grant = maxCachedBytes - sharedCachedBytes - allowanceTotal;
            if (grant < need) {
                return false;
            }
        }
        tc.allowance += grant;
        allowanceTotal += grant;
        return true;
    }

    private void returnAllowanceLocked(ThreadCache tc) {
        allowanceTotal -= tc.allowance;
        tc.allowance = 0;
    }

    private void pushShared(Block b) {
        int i = b.sizeClass;
        b.prev = null;
        b.next = classHead[i];
        if (classHead[i] != null) {
            classHead[i].prev = b;
        } else {
            classTail[i] = b;
        }
        classHead[i] = b;
        classCount[i]++;
        b.lruPrev = null;
        b.lruNext = lruHead;
        if (lruHead != null) {
            lruHead.lruPrev = b;
        } else {
            lruTail = b;
        }
        lruHead = b;
        sharedCachedBytes += b.capacity;
    }

    private void unlinkShared(Block b) {
        int i = b.sizeClass;
        if (b.prev != null) {
            b.prev.next = b.next;
        } else {
            classHead[i] = b.next;
        }
        if (b.next != null) {
            b.next.prev = b.prev;
        } else {
            classTail[i] = b.prev;
        }
        if (b.lruPrev != null) {
            b.lruPrev.lruNext = b.lruNext;
        } else {
            lruHead = b.lruNext;
        }
        if (b.lruNext != null) {
            b.lruNext.lruPrev = b.lruPrev;
        } else {
            lruTail = b.lruPrev;
        }
        b.prev = b.next = b.lruPrev = b.lruNext = null;
        classCount[i]--;
        sharedCachedBytes -= b.capacity;
    }

    private void enforceLimitsLocked(int touchedClass) {
        while (classCount[touchedClass] > maxBlocksPerClass) {
            evictLocked(classTail[touchedClass]);
        }
        while (sharedCachedBytes + allowanceTotal > maxCachedBytes && lruTail != null) {
            evictLocked(lruTail);
        }
    }

    /** Takes a cached block out of the shared tier and frees it to the device, counting an eviction. */
    private void evictLocked(Block b) {
        unlinkShared(b);
        evictions++;
        freeRaw(b);
    }

    private void freeRaw(Block b) {
        allBlocks.remove(b);
        b.retired = true;
        reservedBytes -= b.capacity;
        rawFrees++;
        allocator.free(b.buffer, b.capacity);
    }

    /** Moves every block of {@code tc} (owned by the calling thread or a dead one) to the shared tier. */
    private void flush(ThreadCache tc) {
        tc.flushRequested = false;
        lock.lock();
        try {
            drainLocked(tc, closed);
            enforceLimitsLocked(0);
        } finally {
            lock.unlock();
        }
    }

    private void drainLocked(ThreadCache tc, boolean free) {
        returnAllowanceLocked(tc);
        for (int i = 0; i < SizeClasses.COUNT; i++) {
            Block b;
            while ((b = tc.pop(i)) != null) {
                if (free) {
                    evictions++;
                    freeRaw(b);
                } else {
                    pushShared(b);
                }
            }
        }
    }

    private void releaseAllCachedLocked(ThreadCache current) {
        drainLocked(current, true);
        while (lruTail != null) {
            evictLocked(lruTail);
        }
        for (ThreadCache c : caches) {
            if (c != current && c.cachedBytes > 0) {
                c.flushRequested = true;
            }
        }
    }

    /**
     * Frees every cached block this thread can reach (the shared tier and its own cache) back to the device; other
     * threads empty their caches at their next call. Live blocks are untouched. The equivalent of
     * {@code torch.cuda.empty_cache()}.
     */
    public void emptyCache() {
        ThreadCache tc = threadCache.get();
        lock.lock();
        try {
            releaseAllCachedLocked(tc);
        } finally {
            lock.unlock();
        }
    }

    private ThreadCache registerThreadCache() {
        ThreadCache tc = new ThreadCache(Thread.currentThread());
        lock.lock();
        try {
            caches.add(tc);
        } finally {
            lock.unlock();
        }
        return tc;
    }

    private void reapDeadThreads() {
        for (var it = caches.iterator(); it.hasNext(); ) {
            ThreadCache c = it.next();
            if (!c.thread.isAlive()) { // thread termination happens-before isAlive() returning false
                drainLocked(c, closed);
                retiredRequests += c.requests;
                retiredHits += c.hits;
                retiredNetBytes += c.netBytes();
                retiredPeakBytes += c.peakNetBytes;
                it.remove();
            }
        }
    }

    private long liveBytesLocked() {
        long live = retiredNetBytes;
        for (ThreadCache c : caches) {
            live += c.netBytes();
        }
        return live;
    }

    /** A snapshot of the statistics (see {@link PoolStats} for exactness). */
    public PoolStats stats() {
        lock.lock();
        try {
            reapDeadThreads();
            long requests = retiredRequests;
            long hits = retiredHits;
            long peak = retiredPeakBytes;
            for (ThreadCache c : caches) {
                requests += c.requests;
                hits += c.hits;
                peak += c.peakNetBytes;
            }
            long live = liveBytesLocked();
            return new PoolStats(requests, hits, misses, rawAllocations, rawFrees, evictions, live,
                    Math.max(peak, live), reservedBytes - live, reservedBytes, peakReservedBytes, allocRetries, ooms,
                    maxCachedBytes);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Per-size-class request and hit counts: {@code long[3][]} of class sizes in bytes, requests and hits, for the
     * classes that saw at least one request.
     */
    public long[][] sizeClassCounts() {
        lock.lock();
        try {
            long[] req = new long[SizeClasses.COUNT];
            long[] hit = new long[SizeClasses.COUNT];
            for (ThreadCache c : caches) {
                for (int i = 0; i < SizeClasses.COUNT; i++) {
                    req[i] += c.classRequests[i];
                    hit[i] += c.classHits[i];
                }
            }
            int n = 0;
            for (long r : req) {
                n += r > 0 ? 1 : 0;
            }
            long[][] out = new long[3][n];
            for (int i = 0, j = 0; i < SizeClasses.COUNT; i++) {
                if (req[i] > 0) {
                    out[0][j] = SizeClasses.size(i);
                    out[1][j] = req[i];
                    out[2][j++] = hit[i];
                }
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    /** Resets the peak figures to the current ones. */
    public void resetPeak() {
        lock.lock();
        try {
            for (ThreadCache c : caches) {
                c.peakNetBytes = Math.max(0, c.netBytes()); // racy for running threads; exact when quiescent
            }
            retiredPeakBytes = Math.max(0, retiredNetBytes);
            peakReservedBytes = reservedBytes;
        } finally {
            lock.unlock();
        }
    }

    /** Blocks handed out and not yet released (for leak reports). */
    public List<Block> outstandingBlocks() {
        lock.lock();
        try {
            List<Block> out = new ArrayList<>();
            for (Block b : allBlocks) {
                if (b.refCnt() > 0) {
                    out.add(b);
                }
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Frees every cached block, unregisters the pool's JMX bean and closes the pool; blocks still handed out are
     * reported through {@link LeakDetector#reportOutstanding} (a WARN log line naming their count and bytes, as
     * Arrow's "memory leaked" report) and are freed to the device when released.
     */
    @Override
    public void close() {
        List<Block> leaked;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            for (ThreadCache c : caches) {
                drainLocked(c, true);
            }
            while (lruTail != null) {
                Block b = lruTail;
                unlinkShared(b);
                freeRaw(b);
            }
            leaked = new ArrayList<>();
            for (Block b : allBlocks) {
                if (b.refCnt() > 0) {
                    leaked.add(b);
                }
            }
        } finally {
            lock.unlock();
        }
        MemoryMBeans.unregister(objectName);
        if (!leaked.isEmpty()) {
            long bytes = leaked.stream().mapToLong(Block::capacity).sum();
            LeakDetector.reportOutstanding(describe(), leaked.size(), bytes);
        }
    }

    /**
     * Sets (or with {@code null} removes) the listener told of every raw device allocation and free of this pool
     * (cache hits are not reported). Used by memory-history recorders.
     */
    public void reservationListener(ReservationListener listener) {
        allocator.reservationListener(listener);
    }

    /** The name this pool's {@link BufferPoolMXBean} is registered under, or {@code null} when JMX is off. */
    public ObjectName objectName() {
        return objectName;
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return closed;
    }

    @Override
    public String describe() {
        return "BufferPool[" + device.id() + "/" + name + "]";
    }

    @Override
    public String toString() {
        return describe();
    }

    /** Options of a {@link BufferPool}. Not thread-safe. */
    public static final class Builder {
        private final Device device;
        private String name = "default";
        private long alignment = 64;
        private long maxCachedBytes = defaultMaxCachedBytes();
        private int maxBlocksPerClass = DEFAULT_MAX_BLOCKS_PER_CLASS;
        private long maxThreadCacheBytes = -1;

        private Builder(Device device) {
            this.device = device;
        }

        private static long defaultMaxCachedBytes() {
            String env = System.getenv("TENSORBUFFER_POOL_MAX_MB");
            if (env == null || env.isBlank()) {
                return DEFAULT_MAX_CACHED_BYTES;
            }
            try {
                long mb = Long.parseLong(env.trim());
                if (mb < 0) {
                    throw new NumberFormatException();
                }
                return mb << 20;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("TENSORBUFFER_POOL_MAX_MB must be a non-negative integer, got '"
                        + env + "'");
            }
        }

        /** Name used in statistics, JMX and logs. */
        public Builder name(String name) {
            this.name = name;
            return this;
        }

        /** Minimum alignment of blocks in bytes (a power of two; raised to the device's). */
        public Builder alignment(long alignment) {
            if (Long.bitCount(alignment) != 1) {
                throw new IllegalArgumentException("alignment " + alignment + " is not a power of two");
            }
            this.alignment = alignment;
            return this;
        }

        /** Budget of cached (free) bytes; beyond it the least recently used blocks are freed. */
        public Builder maxCachedBytes(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("maxCachedBytes " + bytes + " is negative");
            }
            this.maxCachedBytes = bytes;
            return this;
        }

        /** Cap on free blocks per size class in the shared tier. */
        public Builder maxBlocksPerClass(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("maxBlocksPerClass " + n + " is negative");
            }
            this.maxBlocksPerClass = n;
            return this;
        }

        /** Bytes each thread may cache privately (default: min(budget / 8, 64 MiB)); 0 disables thread caches. */
        public Builder maxThreadCacheBytes(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("maxThreadCacheBytes " + bytes + " is negative");
            }
            this.maxThreadCacheBytes = bytes;
            return this;
        }

        /** The pool. */
        public BufferPool build() {
            return new BufferPool(this);
        }
    }
}
