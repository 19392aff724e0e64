/**
 * The device SPI, for backend authors and for choosing a device: {@link org.tensorbuffer.device.Devices} finds
 * backends through {@link java.util.ServiceLoader} ({@link org.tensorbuffer.device.DeviceProvider} in
 * {@code META-INF/services}); a {@link org.tensorbuffer.device.Device} allocates and frees
 * {@link org.tensorbuffer.device.DeviceBuffer}s (bytes, aligned), copies, fills and runs
 * {@link org.tensorbuffer.device.Kernels}. Backends: {@code device-cpu} ({@code cpu}), {@code device-cuda}
 * ({@code cuda:N}), {@code device-metal} ({@code vulkan}, {@code metal}).
 *
 * <p>Every public type here is part of the SPI. A backend checks its kernels against core's test jar
 * ({@code org.tensorbuffer.testing}).
 */
package org.tensorbuffer.device;
