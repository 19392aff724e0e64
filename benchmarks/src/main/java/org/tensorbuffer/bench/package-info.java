/**
 * JMH benchmarks: raw device vs BufferPool vs TensorBuffer vs malloc, arenas and direct buffers
 * ({@link org.tensorbuffer.bench.AllocationBenchmark}, {@link org.tensorbuffer.bench.SizeDistributionBenchmark}),
 * one decode token and one einsum evaluation per strategy; the result summary and the targets they are checked
 * against. Run through {@code ./tensorbuffer bench}. Not a library API.
 */
package org.tensorbuffer.bench;
