/**
 * The device SPI, for backend authors and for choosing a device: {@link org.tensorbuffer.device.Devices} finds
 * backends through {@link java.util.ServiceLoader} ({@link org.tensorbuffer.device.DeviceProvider} in
 * {@code META-INF/services}); a {@link org.tensorbuffer.device.Device} allocates and frees
 * {@link org.tensorbuffer.device.DeviceBuffer}s (bytes, aligned), copies, fills and runs
 * {@link org.tensorbuffer.device.Kernels}. Backends: {@code device-cpu} ({@code cpu}), {@code device-cuda}
 * ({@code cuda:N}), {@code device-metal} ({@code vulkan}, {@code metal}).
 *
 * <p>Every public type here is part of the SPI. A backend checks its kernels and memory calls with the
 * kernel-conformance suite in core's test jar: a one-line subclass of {@code org.tensorbuffer.device.KernelConformanceTest}
 * that returns its device (references, PyTorch-pinned values and the tolerance policy are written there once).
 *
 * <p>Public types (the API; {@code CorePublicSurfaceTest} holds the code to this list): {@code BinaryOp},
 * {@code Device}, {@code DeviceBuffer}, {@code DeviceKind}, {@code DeviceOutOfMemoryException}, {@code DeviceProvider},
 * {@code DeviceStatus}, {@code DeviceUnavailableException}, {@code Devices}, {@code Kernels}, {@code MemoryInfo},
 * {@code StepGraph}.
 */
package org.tensorbuffer.device;
