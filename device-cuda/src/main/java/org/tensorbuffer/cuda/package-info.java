/**
 * The {@code cuda:N} devices: NVIDIA GPUs through JCuda's driver API ({@code cuMemAlloc} or stream-ordered
 * {@code cuMemAllocAsync}, see {@link org.tensorbuffer.cuda.AllocMode}), PTX kernels and cuBLAS bound through FFM.
 * Listed as unavailable, with the reason, where there is no driver. Found through {@code Devices.get("cuda:0")}.
 */
package org.tensorbuffer.cuda;
