/**
 * The {@code vulkan} and {@code metal} devices: Vulkan compute through LWJGL, buffers from the Vulkan Memory
 * Allocator, GLSL shaders compiled with shaderc; on macOS the same code runs on Metal through MoltenVK. Found through
 * {@code Devices.get("vulkan")}.
 */
package org.tensorbuffer.metal;
