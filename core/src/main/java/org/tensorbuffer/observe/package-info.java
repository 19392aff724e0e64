/**
 * Observation of memory: {@link org.tensorbuffer.observe.MemoryStats} (PyTorch-style {@code memory_stats()} keys),
 * {@link org.tensorbuffer.observe.MemoryHistory} (a recorder of {@link org.tensorbuffer.observe.MemoryEvent}s, like
 * {@code torch.cuda.memory._record_memory_history}) and its HTML timeline
 * ({@link org.tensorbuffer.observe.MemoryTimelineHtml}); {@link org.tensorbuffer.observe.ByteUnits} formats byte
 * counts. All user-facing: observation goes through {@link org.tensorbuffer.observe.AllocationListener} installed on a
 * {@link org.tensorbuffer.observe.MemorySource} (a context), whose {@link org.tensorbuffer.observe.MemoryCounters}
 * keep the torch-style totals; {@link org.tensorbuffer.observe.MemoryRecording} starts and saves a recording, and
 * {@link org.tensorbuffer.observe.TorchMemorySnapshot} writes PyTorch's {@code _dump_snapshot} pickle.
 *
 * <p>Public types (the API; {@code CorePublicSurfaceTest} holds the code to this list): {@code AllocationListener},
 * {@code ByteUnits}, {@code MemoryCounters}, {@code MemoryEvent}, {@code MemoryHistory}, {@code MemoryRecording},
 * {@code MemorySource}, {@code MemoryStats}, {@code MemoryTimelineHtml}, {@code TorchMemorySnapshot}.
 */
package org.tensorbuffer.observe;
