/**
 * An evaluator of einsum-benchmark instances (Blacher et al., 2024): {@link org.tensorbuffer.einsum.Instance} reads
 * a network and its contraction path, {@link org.tensorbuffer.einsum.Evaluator} contracts it pairwise on the tensor
 * API, {@link org.tensorbuffer.einsum.AllocationProfile} reports the sizes and lifetimes of its intermediates;
 * {@link org.tensorbuffer.einsum.Npy} reads and writes NumPy arrays.
 */
package org.tensorbuffer.einsum;
