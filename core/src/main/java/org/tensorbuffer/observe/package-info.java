/**
 * Observation of memory: {@link org.tensorbuffer.observe.MemoryStats} (PyTorch-style {@code memory_stats()} keys),
 * {@link org.tensorbuffer.observe.MemoryHistory} (a recorder of {@link org.tensorbuffer.observe.MemoryEvent}s, like
 * {@code torch.cuda.memory._record_memory_history}) and its HTML timeline
 * ({@link org.tensorbuffer.observe.MemoryTimelineHtml}); {@link org.tensorbuffer.observe.ByteUnits} formats byte
 * counts. All user-facing.
 */
package org.tensorbuffer.observe;
