/**
 * The tensor API: {@link org.tensorbuffer.Tensor} (shape, dtype, views, ops; row-major), created through a
 * {@link org.tensorbuffer.TensorContext} that owns a device, its pools and an
 * {@link org.tensorbuffer.AllocationStrategy} ({@code NONE}, {@code REACTIVE}, {@code PROACTIVE}, {@code PLANNED});
 * ownership helpers {@link org.tensorbuffer.MemoryScope} (release what a block of code created unless it escapes)
 * and {@link org.tensorbuffer.FunctionFrame} (numbered slot buffers reused across calls).
 *
 * <p>Every public type here is user-facing. Tensors are not thread-safe; contexts and pools are.
 */
package org.tensorbuffer;
