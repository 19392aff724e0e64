/**
 * The {@code meta} device, as PyTorch's meta tensors: sizes without memory, kernels that do nothing, for recording a
 * program's allocations in the time its Java code takes ({@link org.tensorbuffer.memory.TensorBuffer#record}). Found
 * through {@link org.tensorbuffer.device.Devices#get(String) Devices.get("meta")}; the device itself is
 * package-private, and its provider is public only because {@link java.util.ServiceLoader} needs it.
 *
 * <p>Public types (the API; {@code CorePublicSurfaceTest} holds the code to this list): {@code MetaDeviceProvider}.
 */
package org.tensorbuffer.meta;
