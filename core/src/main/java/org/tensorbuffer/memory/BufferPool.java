package org.tensorbuffer.memory;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.ReentrantLock;
import javax.management.ObjectName;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.leak.LeakDetector;

/**
 * The reactive pool: a caching allocator over one {@link Device}. Requests are rounded to {@code SizeClasses}; a
 * released block goes to a free list of its class instead of back to the device, and the next request of that class
 * takes it again.
 *
 * <h2>Structure</h2>
 * <ul>
 *   <li>Per-thread caches ({@link ThreadCache}): up to 64 free blocks per class and {@code maxThreadCacheBytes} per
 *       thread. The hit path ({@link #take} then {@link Block#release()} on the same thread) touches only these: no
 *       lock, no shared atomic, no Java heap allocation. Platform threads only: a virtual thread gets no cache of its
 *       own (with one virtual thread per task, {@code Executors.newVirtualThreadPerTaskExecutor()}, one cache per
 *       thread would grow with the number of tasks and strand free blocks in caches of threads that ran once).
 *       Virtual threads share a fixed set of caches instead, the smallest power of two at least twice the number of
 *       processors, picked by thread id (jemalloc's thread-identifier hashing where there is no TLS; Netty gives
 *       thread caches only to its event-loop threads by default, {@code useCacheForAllThreads=false}, and shares
 *       arenas among the rest); each shared cache is guarded by its own lock, so a virtual thread's hit is one
 *       uncontended lock more than a platform thread's, and the number of caches stays bounded.</li>
 *   <li>A shared tier under one lock: a free list per class (most recently used first) and one LRU list over all
 *       classes. Blocks overflow into it from thread caches and are taken from it when a thread cache is empty.</li>
 *   <li>Limits: at most {@code maxBlocksPerClass} free blocks per class in the shared tier, and at most
 *       {@code maxCachedBytes} cached bytes in all (default: {@code TENSORBUFFER_POOL_MAX_MB} if set, else half
 *       of the device's total memory as {@link Device#memoryInfo()} reports it, physical RAM or the container's limit
 *       for the CPU, else 512 MiB; see {@link #defaultMaxCachedBytes(Device)}); beyond them the least recently used
 *       blocks are freed (evicted).</li>
 *   <li>Out of memory: if the device cannot allocate, the pool frees every cached block it can reach (the shared tier
 *       and the calling thread's cache; other threads empty theirs at their next call), retries once, and then throws
 *       {@link PoolOutOfMemoryException} with the requested, live, cached and limit bytes.</li>
 * </ul>
 * A thread that dies leaves its cache behind; the pool moves those blocks to the shared tier the next time it takes
 * the slow path or a snapshot.
 *
 * <p>Thread-safe. A block may be released on another thread than the one that took it: it lands in that thread's
 * cache if the thread takes from this pool too, else in the shared tier (so a thread that only releases, such as the
 * leak detector's cleanup thread, hoards nothing). {@link #close()} may race with takes and releases on other threads:
 * a block is never lost or handed to two owners (a free block is {@link Block#revoke() revoked} before it is freed,
 * and a thread cache's stale entries are then refused by {@link Block#tryAcquire()}); a take that loses the race
 * throws {@link IllegalStateException}.
 */
public final class BufferPool extends BlockOwner implements AutoCloseable {
    /**
     * Default cached-bytes budget of a device that does not report its total memory: 512 MiB, as the design notes'
     * {@code TL_BUFFER_MAX_MB}.
     */
    public static final long DEFAULT_MAX_CACHED_BYTES = 512L << 20;
    /**
     * Default cached-bytes budget of a device that reports its total memory, as a fraction of it: 1/2 (see
     * {@link #defaultMaxCachedBytes(Device)}).
     */
    public static final double DEFAULT_CACHED_FRACTION = 0.5;
    /** Default cap on free blocks per size class in the shared tier. */
    public static final int DEFAULT_MAX_BLOCKS_PER_CLASS = 256;

    private final Device device;
    private final String name;
    private final long maxCachedBytes;
    private final int maxBlocksPerClass;
    private final long maxThreadCacheBytes;
    private final ThreadLocal<ThreadCache> threadCache = ThreadLocal.withInitial(this::registerThreadCache);
    /** The caches virtual threads share, created on first use (see the class comment); a power-of-two count. */
    private final AtomicReferenceArray<ThreadCache> virtualCaches = new AtomicReferenceArray<>(
            Integer.highestOneBit(Math.max(1, 2 * Runtime.getRuntime().availableProcessors() - 1)) << 1);

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
    /** Blocks handed out when the pool closed, held weakly so that the Cleaner can free them once unreachable. */
    private final List<java.lang.ref.WeakReference<Block>> orphans = new ArrayList<>();
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
        this.maxCachedBytes = b.maxCachedBytes >= 0 ? b.maxCachedBytes : defaultMaxCachedBytes(device);
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
        Thread thread = Thread.currentThread();
        if (thread.isVirtual()) {
            return takeVirtual(thread, index);
        }
        return takeFrom(threadCache.get(), index);
    }

    /** {@link #take} on a virtual thread: from a shared cache, under its lock. */
    private Block takeVirtual(Thread thread, int index) {
        ThreadCache tc = virtualCache(thread);
        tc.lock.lock();
        try {
            return takeFrom(tc, index);
        } finally {
            tc.lock.unlock();
        }
    }

    private Block takeFrom(ThreadCache tc, int index) {
        tc.requests++;
        tc.classRequests[index]++;
        Block b = tc.pop(index);
        if (b != null && b.tryAcquire()) {
            tc.hits++;
            tc.classHits[index]++;
        } else {
            // empty cache, or a stale entry whose block a concurrent close() revoked and freed: drop it
            b = takeSlow(tc, index);
            if (!b.tryAcquire()) {
                throw new IllegalStateException(describe() + " is closed");
            }
        }
        long net = (tc.tookBytes += b.capacity) - tc.returnedBytes;
        if (net > tc.peakNetBytes) {
            tc.peakNetBytes = net;
        }
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
        Thread thread = Thread.currentThread();
        if (thread.isVirtual()) {
            recycleVirtual(thread, b);
            return;
        }
        recycleTo(threadCache.get(), b);
    }

    /** {@link #recycle} on a virtual thread: into a shared cache, under its lock. */
    private void recycleVirtual(Thread thread, Block b) {
        ThreadCache tc = virtualCache(thread);
        tc.lock.lock();
        try {
            recycleTo(tc, b);
        } finally {
            tc.lock.unlock();
        }
    }

    private void recycleTo(ThreadCache tc, Block b) {
        tc.returnedBytes += b.capacity;
        // tc.requests == 0: a thread that never takes (a cleanup thread, a consumer) would hoard what it caches
        if (!tc.flushRequested && !closed && tc.requests != 0 && tc.push(b)) {
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
                if (b.orphan != null) {
                    b.orphan.clean(); // handed out when the pool closed: its memory goes now
                } else {
                    freeFree(b);
                }
                return;
            }
            if (!tc.flushRequested && tc.requests != 0 && growAllowanceLocked(tc, b.capacity) && tc.push(b)) {
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
        freeFree(b);
    }

    /**
     * Frees a free block unless a racing {@link #close()} already revoked (and freed) it: a block is freed once. A
     * revoked block can never be handed out again, even from a stale thread-cache entry.
     */
    private void freeFree(Block b) {
        if (b.revoke()) {
            freeRaw(b);
        }
    }

    private void freeRaw(Block b) {
        allBlocks.remove(b);
        b.retired = true;
        freeBuffer(b.buffer, b.capacity);
    }

    private void freeBuffer(DeviceBuffer buffer, long capacity) {
        reservedBytes -= capacity;
        rawFrees++;
        allocator.free(buffer, capacity);
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
                    freeFree(b);
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
        Thread thread = Thread.currentThread();
        ThreadCache tc = thread.isVirtual() ? virtualCache(thread) : threadCache.get();
        if (tc.lock != null) {
            tc.lock.lock(); // a shared cache's lock comes before the pool's
        }
        try {
            lock.lock();
            try {
                releaseAllCachedLocked(tc);
            } finally {
                lock.unlock();
            }
        } finally {
            if (tc.lock != null) {
                tc.lock.unlock();
            }
        }
    }

    /** The shared cache of a virtual thread, by its id; created on first use. */
    private ThreadCache virtualCache(Thread thread) {
        int i = (int) thread.threadId() & (virtualCaches.length() - 1);
        ThreadCache tc = virtualCaches.get(i);
        return tc != null ? tc : createVirtualCache(i);
    }

    private ThreadCache createVirtualCache(int i) {
        lock.lock();
        try {
            ThreadCache tc = virtualCaches.get(i);
            if (tc == null) {
                tc = new ThreadCache();
                caches.add(tc);
                virtualCaches.set(i, tc);
            }
            return tc;
        } finally {
            lock.unlock();
        }
    }

    /** Number of thread caches the pool keeps now (platform threads' own, dead ones not yet reaped, shared ones). */
    int threadCacheCount() {
        lock.lock();
        try {
            return caches.size();
        } finally {
            lock.unlock();
        }
    }

    /** How many shared caches virtual threads may use at most. */
    int virtualThreadCacheLimit() {
        return virtualCaches.length();
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
            if (c.ownerDead()) {
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
            // the sum of per-thread peaks over-counts when blocks are released on other threads than they were taken
            // on; live bytes never exceeded the reserved bytes, so the peak reserved bytes bound it
            long peakLive = Math.min(Math.max(peak, live), Math.max(peakReservedBytes, live));
            return new PoolStats(requests, hits, misses, rawAllocations, rawFrees, evictions, live,
                    peakLive, reservedBytes - live, reservedBytes, peakReservedBytes, allocRetries, ooms,
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
            for (var ref : orphans) {
                Block b = ref.get();
                if (b != null && b.refCnt() > 0) {
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
     * Arrow's "memory leaked" report) and are freed to the device when released, or, if they are never released,
     * once they are garbage-collected (so an unsampled leaked tensor's memory returns after its pool is closed without
     * ever being freed under a live user). May race with takes and releases on other threads (see the class comment).
     */
    @Override
    public void close() {
        List<Block> leaked;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true; // volatile write before reading any reference count below (pairs with recycle's CAS)
            ThreadCache own = Thread.currentThread().isVirtual() ? null : threadCache.get();
            for (ThreadCache c : caches) {
                if (c == own || c.ownerDead()) { // other live threads' caches and shared ones are theirs to touch
                    drainLocked(c, true);
                }
            }
            while (lruTail != null) {
                Block b = lruTail;
                unlinkShared(b);
                freeFree(b);
            }
            leaked = new ArrayList<>();
            for (Block b : new ArrayList<>(allBlocks)) {
                if (b.revoke()) {
                    freeRaw(b); // free: in a live thread's cache or on its way there
                } else if (b.refCnt() > 0) {
                    leaked.add(b);
                    allBlocks.remove(b); // the pool must not keep it reachable: the Cleaner frees it when unreachable
                    orphans.add(new java.lang.ref.WeakReference<>(b));
                    b.orphan = OrphanCleaner.CLEANER.register(b, new FreeOrphan(this, b.buffer, b.capacity));
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

    /** The memory of a block handed out when its pool closed; must not refer to the block. Runs once. */
    private record FreeOrphan(BufferPool pool, DeviceBuffer buffer, long capacity) implements Runnable {
        @Override
        public void run() {
            pool.lock.lock();
            try {
                pool.freeBuffer(buffer, capacity);
            } finally {
                pool.lock.unlock();
            }
        }
    }

    /** The Cleaner thread of orphaned blocks, started on first use. */
    private static final class OrphanCleaner {
        static final java.lang.ref.Cleaner CLEANER = java.lang.ref.Cleaner.create();
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

    /**
     * The cached-bytes budget a pool over {@code device} gets when neither {@link Builder#maxCachedBytes(long)} nor
     * {@code TENSORBUFFER_POOL_MAX_MB} sets one: {@link #DEFAULT_CACHED_FRACTION} of the device's total memory
     * ({@link Device#memoryInfo()}: physical RAM, or the container's or the device's own limit, for the CPU; the
     * GPU's memory for CUDA), or {@link #DEFAULT_MAX_CACHED_BYTES} when the device does not know it. This follows what
     * users of other caching allocators expect: PyTorch's CUDA caching allocator keeps every freed block until an
     * allocation fails, MLX's cache limit defaults to its memory limit; a fixed 512 MiB evicted and re-allocated the
     * large intermediates of einsum contractions on every evaluation (docs/benchmarks.md, issue 14, round 5). The pool
     * still frees its cache and retries when the device runs out of memory, so cached bytes never cause an
     * out-of-memory failure on their own.
     *
     * @return the budget in bytes
     */
    public static long defaultMaxCachedBytes(Device device) {
        long total;
        try {
            total = device.memoryInfo().totalBytes();
        } catch (RuntimeException e) {
            total = -1; // a backend that cannot say (e.g. a closed device): the fixed default
        }
        return total > 0 ? (long) (total * DEFAULT_CACHED_FRACTION) : DEFAULT_MAX_CACHED_BYTES;
    }

    /**
     * Parses a cached-bytes budget given in MiB, as {@code TENSORBUFFER_POOL_MAX_MB} holds it.
     *
     * @return the budget in bytes
     * @throws IllegalArgumentException if {@code megabytes} is not a non-negative integer, or its bytes do not fit
     *                                  in a {@code long}, naming the value
     */
    public static long parseMaxCachedMegabytes(String megabytes) {
        long mb;
        try {
            mb = Long.parseLong(megabytes.trim());
        } catch (NumberFormatException e) {
            mb = -1;
        }
        if (mb < 0) {
            throw new IllegalArgumentException("must be a non-negative integer number of MiB, got '" + megabytes
                    + "'");
        }
        if (mb > Long.MAX_VALUE >> 20) {
            throw new IllegalArgumentException("'" + megabytes + "' MiB is too large (at most " + (Long.MAX_VALUE >> 20)
                    + " MiB)");
        }
        return mb << 20;
    }

    /** Options of a {@link BufferPool}. Not thread-safe. */
    public static final class Builder {
        private final Device device;
        private String name = "default";
        private long alignment = 64;
        /** The budget set by {@link #maxCachedBytes(long)} or the environment; -1: the device's default. */
        private long maxCachedBytes = environmentMaxCachedBytes();
        private int maxBlocksPerClass = DEFAULT_MAX_BLOCKS_PER_CLASS;
        private long maxThreadCacheBytes = -1;

        private Builder(Device device) {
            this.device = device;
        }

        private static long environmentMaxCachedBytes() {
            String env = System.getenv("TENSORBUFFER_POOL_MAX_MB");
            if (env == null || env.isBlank()) {
                return -1;
            }
            try {
                return parseMaxCachedMegabytes(env);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("TENSORBUFFER_POOL_MAX_MB " + e.getMessage());
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

        /**
         * Budget of cached (free) bytes; beyond it the least recently used blocks are freed. Default:
         * {@code TENSORBUFFER_POOL_MAX_MB} if set, else {@link BufferPool#defaultMaxCachedBytes(Device)}.
         */
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
