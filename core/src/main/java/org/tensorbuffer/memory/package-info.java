/**
 * Device memory for tensors: the reactive {@link org.tensorbuffer.memory.BufferPool}, the proactive
 * {@link org.tensorbuffer.memory.TensorBuffer} and the {@link org.tensorbuffer.memory.Block}s they hand out.
 *
 * <h2>Tiers</h2>
 * A request goes down until a tier can serve it; a release goes back to the tier the block came from
 * ({@link org.tensorbuffer.memory.Block#owner()}):
 * <pre>
 *   Tensor / TensorContext          take(shape, dtype)                      close() -&gt; Block.release()
 *        │
 *   TensorBuffer (proactive)        exact (shape, dtype) slots, reserved ahead; O(1) take on a hit
 *        │ miss
 *   BufferPool (reactive)           size class (table below)
 *        │    ├─ thread cache       per-thread stacks per class, no lock (Netty's PoolThreadCache)
 *        │    └─ shared tier        per-class free lists + one LRU list under a lock; byte budget, LRU eviction
 *        │ miss
 *   DeviceAllocator                 alignment max(64, requested, device); out of memory: empty the cache, retry
 *        │                          once, then PoolOutOfMemoryException; every allocate/free told to the listener
 *   Device (SPI)                    allocate / free: posix_memalign, cuMemAlloc(Async), vmaCreateBuffer
 * </pre>
 * The {@code NONE} strategy uses the tensor API's raw allocator (one device allocation per tensor; its counters are a
 * {@link org.tensorbuffer.memory.RawAllocatorMetric}) and {@code PLANNED} the arena of {@link org.tensorbuffer.plan};
 * both take device memory through the same {@link org.tensorbuffer.memory.DeviceAllocator}.
 *
 * <h2>Size classes</h2>
 * {@code SizeClasses} (package-private): jemalloc's rule as Netty's {@code SizeClasses} applies it, 64-byte
 * quantum, four classes per doubling above 512 B (at most 25% rounding waste), index computed in O(1):
 * <pre>
 *   index      size (bytes)                        spacing
 *   0 - 7      64, 128, 192, 256, 320, 384, 448, 512   64
 *   8 - 11     640, 768, 896, 1024                  128
 *   12 - 15    1280, 1536, 1792, 2048               256
 *   16 - 19    2560, 3072, 3584, 4096               512
 *   ...        group p (9 ≤ p ≤ 61): indices 8 + 4(p-9) .. 11 + 4(p-9),
 *              sizes 2^p + m·2^(p-2), m = 1..4      2^(p-2)
 *   52 - 55    1.25, 1.5, 1.75, 2 MiB
 *   92 - 95    1.25, 1.5, 1.75, 2 GiB
 *   219        2^62 (the last class; SizeClasses.COUNT = 220)
 * </pre>
 *
 * <h2>Public surface</h2>
 * For users: {@code BufferPool} (and its {@code Builder}: budget, per-class cap, thread-cache size, alignment),
 * {@code TensorBuffer} (reservations, {@code ReservationPlan} recordings, {@code ShapeBuckets}), their statistics
 * ({@code PoolStats}, {@code TensorBufferStats}, {@code RawAllocatorMetric}) and JMX views ({@code BufferPoolMXBean},
 * {@code TensorBufferMXBean}, registered by the pools themselves), {@code ReservationListener}, and the exceptions
 * ({@code PoolOutOfMemoryException}, {@code IllegalReferenceCountException}, {@code UseAfterRecycleException}).
 * {@code Block} is the handle a tensor holds (retain, release, generation check). For allocator authors:
 * {@code BlockOwner} (subclass it; creating, handing out and recycling blocks are protected) and the
 * {@code DeviceAllocator} it hands its subclasses. Internals are package-private: {@code SizeClasses},
 * {@code ThreadCache}, the free lists, the JMX registration ({@code MemoryMBeans}), {@code Block}'s constructor and
 * reference-count reset; the {@code NONE} strategy's raw allocator lives in the tensor API's package, also
 * package-private.
 *
 * <p>Public types (the API; {@code CorePublicSurfaceTest} holds the code to this list): {@code Block},
 * {@code BlockOwner}, {@code BufferPool}, {@code BufferPoolMXBean}, {@code DeviceAllocator},
 * {@code IllegalReferenceCountException}, {@code PoolOutOfMemoryException}, {@code PoolStats},
 * {@code RawAllocatorMetric}, {@code ReservationKeying}, {@code ReservationListener}, {@code ReservationPlan}, {@code ShapeBuckets},
 * {@code TensorBuffer}, {@code TensorBufferMXBean}, {@code TensorBufferStats}, {@code UseAfterRecycleException}.
 */
package org.tensorbuffer.memory;
