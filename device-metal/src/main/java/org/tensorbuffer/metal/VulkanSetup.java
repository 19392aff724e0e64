package org.tensorbuffer.metal;

import static org.lwjgl.system.MemoryStack.stackPush;
import static org.lwjgl.vulkan.VK10.*;
import static org.lwjgl.vulkan.VK11.VK_API_VERSION_1_1;
import static org.lwjgl.vulkan.VK11.vkGetPhysicalDeviceProperties2;

import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.lwjgl.PointerBuffer;
import org.lwjgl.system.MemoryStack;
import org.lwjgl.vulkan.KHRGetPhysicalDeviceProperties2;
import org.lwjgl.vulkan.KHRPortabilityEnumeration;
import org.lwjgl.vulkan.KHRPortabilitySubset;
import org.lwjgl.vulkan.VK;
import org.lwjgl.vulkan.VK12;
import org.lwjgl.vulkan.VkApplicationInfo;
import org.lwjgl.vulkan.VkExtensionProperties;
import org.lwjgl.vulkan.VkInstance;
import org.lwjgl.vulkan.VkInstanceCreateInfo;
import org.lwjgl.vulkan.VkPhysicalDevice;
import org.lwjgl.vulkan.VkPhysicalDeviceDriverProperties;
import org.lwjgl.vulkan.VkPhysicalDeviceFeatures;
import org.lwjgl.vulkan.VkPhysicalDeviceProperties;
import org.lwjgl.vulkan.VkPhysicalDeviceProperties2;
import org.lwjgl.vulkan.VkQueueFamilyProperties;

/**
 * Creates the Vulkan instance and picks the physical device: the part shared by {@link VulkanDeviceProvider#probe()}
 * and {@link VulkanDevice}.
 *
 * <p>The instance enables {@code VK_KHR_portability_enumeration} with
 * {@code VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR} when the loader offers it, so that MoltenVK (a
 * "portability" implementation) is enumerated on macOS. The device picked is the first compute-capable one of the
 * best type: discrete GPU, then integrated GPU, then virtual GPU, then CPU (lavapipe), then any other.
 */
final class VulkanSetup {
    /** PCI vendor id of Apple GPUs. */
    static final int VENDOR_APPLE = 0x106B;
    /** {@code VK_DRIVER_ID_MOLTENVK}. */
    static final int DRIVER_ID_MOLTENVK = 14;

    private VulkanSetup() {
    }

    /** What was found about the picked physical device. */
    record Picked(VkPhysicalDevice device, int queueFamily, VkFacts facts) {
    }

    /** Facts about a physical device (plain values, usable after the instance is gone). */
    record VkFacts(String name, int deviceType, int apiVersion, int vendorId, String driverName, String driverInfo,
                   boolean moltenVk, boolean float64, Set<String> extensions, long maxStorageBufferRange,
                   long minStorageBufferOffsetAlignment, long maxMemoryAllocationCount, int maxPushConstantsSize,
                   int maxWorkGroupCountX, int maxWorkGroupCountZ) {

        /** Whether host-visible memory is the device's own (CPU or integrated GPU: lavapipe, Apple silicon). */
        boolean unifiedMemory() {
            return deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU || deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
        }

        String typeName() {
            return switch (deviceType) {
                case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU -> "discrete GPU";
                case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU -> "integrated GPU";
                case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU -> "virtual GPU";
                case VK_PHYSICAL_DEVICE_TYPE_CPU -> "CPU";
                default -> "other";
            };
        }

        String apiVersionString() {
            return VK_VERSION_MAJOR(apiVersion) + "." + VK_VERSION_MINOR(apiVersion) + "." + VK_VERSION_PATCH(apiVersion);
        }
    }

    /** The instance API version we ask for: 1.1 where the loader has it (for the *2 queries), else 1.0. */
    static int instanceApiVersion() {
        return VK.getInstanceVersionSupported() >= VK_API_VERSION_1_1 ? VK_API_VERSION_1_1 : VK_API_VERSION_1_0;
    }

    /**
     * Creates an instance.
     *
     * @throws IllegalStateException if the loader refuses (no driver installed, ...)
     */
    static VkInstance createInstance(int apiVersion) {
        try (MemoryStack st = stackPush()) {
            Set<String> offered = instanceExtensions(st);
            List<String> enable = new ArrayList<>();
            int flags = 0;
            if (offered.contains(KHRPortabilityEnumeration.VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
                enable.add(KHRPortabilityEnumeration.VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);
                flags |= KHRPortabilityEnumeration.VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
            }
            if (apiVersion < VK_API_VERSION_1_1 && offered.contains(
                    KHRGetPhysicalDeviceProperties2.VK_KHR_GET_PHYSICAL_DEVICE_PROPERTIES_2_EXTENSION_NAME)) {
                enable.add(KHRGetPhysicalDeviceProperties2.VK_KHR_GET_PHYSICAL_DEVICE_PROPERTIES_2_EXTENSION_NAME);
            }
            PointerBuffer names = st.mallocPointer(enable.size());
            for (String e : enable) {
                names.put(st.UTF8(e));
            }
            names.flip();
            VkApplicationInfo app = VkApplicationInfo.calloc(st).sType$Default()
                    .pApplicationName(st.UTF8("tensorbuffer")).pEngineName(st.UTF8("tensorbuffer"))
                    .apiVersion(apiVersion);
            VkInstanceCreateInfo ci = VkInstanceCreateInfo.calloc(st).sType$Default().flags(flags)
                    .pApplicationInfo(app).ppEnabledExtensionNames(names);
            PointerBuffer pi = st.mallocPointer(1);
            int r = vkCreateInstance(ci, null, pi);
            if (r != VK_SUCCESS) {
                throw new IllegalStateException("vkCreateInstance failed: " + VulkanDevice.result(r));
            }
            return new VkInstance(pi.get(0), ci);
        }
    }

    private static Set<String> instanceExtensions(MemoryStack st) {
        IntBuffer n = st.mallocInt(1);
        vkEnumerateInstanceExtensionProperties((String) null, n, null);
        Set<String> out = new HashSet<>();
        try (VkExtensionProperties.Buffer props = VkExtensionProperties.calloc(n.get(0))) {
            vkEnumerateInstanceExtensionProperties((String) null, n, props);
            for (VkExtensionProperties p : props) {
                out.add(p.extensionNameString());
            }
        }
        return out;
    }

    static Set<String> deviceExtensions(VkPhysicalDevice pd) {
        try (MemoryStack st = stackPush()) {
            IntBuffer n = st.mallocInt(1);
            vkEnumerateDeviceExtensionProperties(pd, (String) null, n, null);
            Set<String> out = new HashSet<>();
            try (VkExtensionProperties.Buffer props = VkExtensionProperties.calloc(n.get(0))) {
                vkEnumerateDeviceExtensionProperties(pd, (String) null, n, props);
                for (VkExtensionProperties p : props) {
                    out.add(p.extensionNameString());
                }
            }
            return out;
        }
    }

    /**
     * Picks the best compute-capable physical device.
     *
     * @throws IllegalStateException naming what is missing when there is none
     */
    static Picked pick(VkInstance instance, int instanceApi) {
        try (MemoryStack st = stackPush()) {
            IntBuffer n = st.mallocInt(1);
            int r = vkEnumeratePhysicalDevices(instance, n, null);
            if (r != VK_SUCCESS || n.get(0) == 0) {
                throw new IllegalStateException("no Vulkan physical device found (is a Vulkan driver installed? "
                        + "on Debian: mesa-vulkan-drivers)" + (r != VK_SUCCESS ? ": " + VulkanDevice.result(r) : ""));
            }
            PointerBuffer pds = st.mallocPointer(n.get(0));
            vkEnumeratePhysicalDevices(instance, n, pds);
            Picked best = null;
            int bestRank = Integer.MAX_VALUE;
            for (int i = 0; i < pds.capacity(); i++) {
                VkPhysicalDevice pd = new VkPhysicalDevice(pds.get(i), instance);
                int family = computeFamily(pd);
                if (family < 0) {
                    continue;
                }
                VkFacts facts = facts(pd, instanceApi);
                int rank = switch (facts.deviceType()) {
                    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU -> 0;
                    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU -> 1;
                    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU -> 2;
                    case VK_PHYSICAL_DEVICE_TYPE_CPU -> 3;
                    default -> 4;
                };
                if (rank < bestRank) {
                    bestRank = rank;
                    best = new Picked(pd, family, facts);
                }
            }
            if (best == null) {
                throw new IllegalStateException("no Vulkan physical device with a compute queue among " + n.get(0));
            }
            return best;
        }
    }

    private static int computeFamily(VkPhysicalDevice pd) {
        try (MemoryStack st = stackPush()) {
            IntBuffer n = st.mallocInt(1);
            vkGetPhysicalDeviceQueueFamilyProperties(pd, n, null);
            VkQueueFamilyProperties.Buffer fams = VkQueueFamilyProperties.calloc(n.get(0), st);
            vkGetPhysicalDeviceQueueFamilyProperties(pd, n, fams);
            int any = -1;
            for (int i = 0; i < fams.capacity(); i++) {
                int f = fams.get(i).queueFlags();
                if ((f & VK_QUEUE_COMPUTE_BIT) != 0) {
                    if ((f & VK_QUEUE_GRAPHICS_BIT) == 0) {
                        return i; // a dedicated compute family
                    }
                    if (any < 0) {
                        any = i;
                    }
                }
            }
            return any;
        }
    }

    private static VkFacts facts(VkPhysicalDevice pd, int instanceApi) {
        try (MemoryStack st = stackPush()) {
            VkPhysicalDeviceProperties props = VkPhysicalDeviceProperties.calloc(st);
            vkGetPhysicalDeviceProperties(pd, props);
            VkPhysicalDeviceFeatures feats = VkPhysicalDeviceFeatures.calloc(st);
            vkGetPhysicalDeviceFeatures(pd, feats);
            Set<String> exts = deviceExtensions(pd);
            String driverName = "";
            String driverInfo = "";
            int driverId = 0;
            boolean driverProps = props.apiVersion() >= VK12.VK_API_VERSION_1_2
                    || exts.contains("VK_KHR_driver_properties");
            if (instanceApi >= VK_API_VERSION_1_1 && driverProps) {
                VkPhysicalDeviceDriverProperties dp = VkPhysicalDeviceDriverProperties.calloc(st).sType$Default();
                VkPhysicalDeviceProperties2 p2 = VkPhysicalDeviceProperties2.calloc(st).sType$Default()
                        .pNext(dp.address());
                vkGetPhysicalDeviceProperties2(pd, p2);
                driverName = dp.driverNameString();
                driverInfo = dp.driverInfoString();
                driverId = dp.driverID();
            }
            boolean moltenVk = driverId == DRIVER_ID_MOLTENVK
                    || (driverId == 0 && exts.contains(KHRPortabilitySubset.VK_KHR_PORTABILITY_SUBSET_EXTENSION_NAME)
                    && System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("mac"));
            var l = props.limits();
            return new VkFacts(props.deviceNameString(), props.deviceType(), props.apiVersion(), props.vendorID(),
                    driverName, driverInfo, moltenVk, feats.shaderFloat64(), Set.copyOf(exts),
                    Integer.toUnsignedLong(l.maxStorageBufferRange()), l.minStorageBufferOffsetAlignment(),
                    Integer.toUnsignedLong(l.maxMemoryAllocationCount()), l.maxPushConstantsSize(),
                    l.maxComputeWorkGroupCount(0), l.maxComputeWorkGroupCount(2));
        }
    }
}
