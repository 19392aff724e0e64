/**
 * The tensor API: {@link org.tensorbuffer.Tensor} (shape, dtype, views, ops; row-major), created through a
 * {@link org.tensorbuffer.TensorContext} that owns a device, its pools and an
 * {@link org.tensorbuffer.AllocationStrategy} ({@code NONE}, {@code REACTIVE}, {@code PROACTIVE}, {@code PLANNED});
 * ownership helpers {@link org.tensorbuffer.MemoryScope} (release what a block of code created unless it escapes)
 * and {@link org.tensorbuffer.FunctionFrame} (numbered slot buffers reused across calls).
 *
 * <p>Every public type here is user-facing. Tensors are not thread-safe; contexts and pools are. The {@code NONE}
 * strategy's allocator is internal; its counters are {@link org.tensorbuffer.TensorContext#raw()}.
 *
 * <p>Public types (the API; {@code CorePublicSurfaceTest} holds the code to this list): {@code AllocationStrategy},
 * {@code FunctionFrame}, {@code MemoryScope}, {@code Tensor}, {@code TensorContext}.
 */
package org.tensorbuffer;
