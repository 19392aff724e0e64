/**
 * The {@code cpu} device: native memory through the FFM API ({@code posix_memalign}/{@code free}, 64-byte aligned),
 * GEMM through OpenBLAS when {@code libopenblas} is found, else a Vector API GEMM, and Vector API kernels for the
 * rest. Needs {@code --enable-native-access=ALL-UNNAMED} and {@code --add-modules jdk.incubator.vector}.
 *
 * <p>Public: {@link org.tensorbuffer.cpu.CpuDevice} (with an optional memory limit for tests) and its
 * {@link org.tensorbuffer.cpu.CpuDeviceProvider}; {@code CpuKernels} and {@code Gemm} are used by the benchmarks.
 * Found through {@code Devices.get("cpu")}.
 */
package org.tensorbuffer.cpu;
