package org.tensorbuffer.metal;

import static org.lwjgl.util.shaderc.Shaderc.*;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.tensorbuffer.types.DType;

/**
 * Compiles the GLSL compute shaders in {@code org/tensorbuffer/metal/shaders/} to SPIR-V at run time with shaderc
 * (through {@code lwjgl-shaderc}), once per shader and element type per process.
 *
 * <p>Each shader file is the body of a compute shader; the compiler prepends {@code #version 450}, {@code #define F64}
 * for {@link DType#F64} and {@code common.glsl} (the element type {@code T} and our exp/sin/cos), and turns
 * {@code TC(1.5)} into a literal of type {@code T} ({@code 1.5} or {@code 1.5LF}). The SPIR-V targets
 * Vulkan 1.0 so that MoltenVK and older drivers take it. Thread-safe.
 */
final class ShaderCompiler {
    private static final String DIR = "/org/tensorbuffer/metal/shaders/";
    private static final Map<String, byte[]> SPIRV = new ConcurrentHashMap<>();
    private static final Pattern TC = Pattern.compile("TC\\(\\s*([0-9][0-9.eE+-]*)\\s*\\)");
    private static long compiler;

    private ShaderCompiler() {
    }

    /**
     * SPIR-V of shader {@code name} for element type {@code dtype} ({@code F32}, {@code F64}, or {@code null} for a
     * type-free shader), compiled on first use and cached.
     *
     * @throws IllegalStateException with shaderc's messages if the shader does not compile
     */
    static byte[] spirv(String name, DType dtype) {
        String key = name + (dtype == DType.F64 ? ".f64" : ".f32");
        return SPIRV.computeIfAbsent(key, k -> compile(name, dtype == DType.F64));
    }

    /** Number of (shader, type) pairs compiled so far in this process. */
    static int compiledCount() {
        return SPIRV.size();
    }

    private static synchronized byte[] compile(String name, boolean f64) {
        String source = "#version 450\n" + (f64 ? "#define F64\n" : "") + resource("common.glsl")
                + "#line 1\n" + resource(name + ".comp");
        // TC(literal): a literal of type T. GLSL's preprocessor cannot paste the LF suffix, so we do it here.
        source = TC.matcher(source).replaceAll(f64 ? "$1LF" : "$1");
        if (compiler == 0) {
            compiler = shaderc_compiler_initialize();
            if (compiler == 0) {
                throw new IllegalStateException("shaderc_compiler_initialize failed");
            }
        }
        long options = shaderc_compile_options_initialize();
        try {
            shaderc_compile_options_set_target_env(options, shaderc_target_env_vulkan, shaderc_env_version_vulkan_1_0);
            shaderc_compile_options_set_optimization_level(options, shaderc_optimization_level_performance);
            long result = shaderc_compile_into_spv(compiler, source, shaderc_compute_shader, name + ".comp", "main",
                    options);
            if (result == 0) {
                throw new IllegalStateException("shaderc could not compile " + name + ".comp");
            }
            try {
                if (shaderc_result_get_compilation_status(result) != shaderc_compilation_status_success) {
                    throw new IllegalStateException("shader " + name + ".comp" + (f64 ? " (float64)" : "")
                            + " does not compile: " + shaderc_result_get_error_message(result));
                }
                ByteBuffer bytes = shaderc_result_get_bytes(result);
                byte[] out = new byte[bytes.remaining()];
                bytes.get(out);
                return out;
            } finally {
                shaderc_result_release(result);
            }
        } finally {
            shaderc_compile_options_release(options);
        }
    }

    private static String resource(String file) {
        try (InputStream in = ShaderCompiler.class.getResourceAsStream(DIR + file)) {
            if (in == null) {
                throw new IllegalStateException("shader resource " + DIR + file + " is missing");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8) + "\n";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
