/**
 * Leak detection, as Netty's {@code ResourceLeakDetector}: {@link org.tensorbuffer.leak.LeakDetector} (level
 * {@code DISABLED}, {@code SAMPLED}, {@code PARANOID}) tracks tensors with a {@link java.lang.ref.Cleaner}; an
 * unclosed tensor is reported with its allocation stack ({@link org.tensorbuffer.leak.LeakReport}) and its memory
 * returned. Pools, TensorBuffers and the planner report blocks still out when they close through the same detector.
 * {@link org.tensorbuffer.leak.LeakTracker} is the per-tensor handle used by the tensor API.
 */
package org.tensorbuffer.leak;
