package org.tensorbuffer.metal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.device.DeviceStatus;
import org.tensorbuffer.device.Devices;

/**
 * Without a Vulkan loader or without a driver, {@code probe()} reports {@code vulkan} unavailable with the reason and
 * does not throw. Each case runs in a fresh JVM (LWJGL loads the loader once per process).
 */
class ProbeWithoutDriverTest {

    /** Entry point of the child JVM: prints the probe's statuses, one a line. */
    public static void main(String[] args) {
        for (DeviceStatus s : new VulkanDeviceProvider().probe()) {
            System.out.println("STATUS " + s.id() + " " + s.available() + " " + s.reason());
        }
        // Devices.get names the reason too
        try {
            Devices.get("vulkan");
            System.out.println("GET ok");
        } catch (RuntimeException e) {
            System.out.println("GET " + e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    private static String child(List<String> jvmArgs, String env, String value) throws IOException,
            InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("--sun-misc-unsafe-memory-access=allow");
        cmd.addAll(jvmArgs);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(ProbeWithoutDriverTest.class.getName());
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (env != null) {
            pb.environment().put(env, value);
        }
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String text = new String(out, StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(text).isZero();
        return text;
    }

    @Test
    void missingLoaderIsReportedNotThrown() throws Exception {
        String out = child(List.of("-Dorg.lwjgl.vulkan.libname=/nonexistent/libvulkan.so.1"), null, null);
        assertThat(out).contains("STATUS vulkan false no usable Vulkan loader or driver")
                .contains("/nonexistent/libvulkan.so.1").contains("libvulkan1");
        assertThat(out).contains("GET DeviceUnavailableException: device 'vulkan' is unavailable");
    }

    @Test
    void loaderWithoutDriverIsReportedNotThrown() throws Exception {
        VulkanTestDevice.get(); // needs the loader (skips where there is none: the case above)
        // the loader finds no ICD: vkCreateInstance fails with VK_ERROR_INCOMPATIBLE_DRIVER
        String out = child(List.of(), "VK_ICD_FILENAMES", "/nonexistent/icd.json");
        assertThat(out).contains("STATUS vulkan false no usable Vulkan loader or driver")
                .contains("VK_ERROR_INCOMPATIBLE_DRIVER");
        assertThat(out).contains("GET DeviceUnavailableException");
    }
}
