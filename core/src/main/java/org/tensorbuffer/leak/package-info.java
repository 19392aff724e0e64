/**
 * Leak detection, as Netty's {@code ResourceLeakDetector}: {@link org.tensorbuffer.leak.LeakDetector} (level
 * {@code DISABLED}, {@code SAMPLED}, {@code PARANOID}) tracks tensors with a {@link java.lang.ref.Cleaner}; an
 * unclosed tensor is reported with its allocation stack ({@link org.tensorbuffer.leak.LeakReport}) and its memory
 * returned. Pools, TensorBuffers and the planner report blocks still out when they close through the same detector.
 * {@link org.tensorbuffer.leak.LeakDetector#track} hands back a {@link java.lang.ref.Cleaner.Cleanable} (the tracker
 * itself is package-private).
 *
 * <p>Public types (the API; {@code CorePublicSurfaceTest} holds the code to this list): {@code LeakDetector},
 * {@code LeakReport}.
 */
package org.tensorbuffer.leak;
