package org.tensorbuffer.cli;

import java.util.Map;
import org.tensorbuffer.leak.LeakDetector;
import org.tensorbuffer.memory.BufferPool;

/**
 * Checks the environment variables the library reads, before a command runs, so that a bad value is a one-line usage
 * error (exit 2) instead of an exception deep in the run.
 */
final class EnvironmentCheck {
    private EnvironmentCheck() {
    }

    /**
     * @throws IllegalArgumentException naming the variable and its value if one is invalid
     */
    static void check(Map<String, String> env) {
        String level = env.get("TENSORBUFFER_LEAK_DETECTION");
        if (level != null && System.getProperty("tensorbuffer.leakDetection.level") == null) {
            try {
                LeakDetector.Level.parse(level);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("TENSORBUFFER_LEAK_DETECTION: " + e.getMessage());
            }
        }
        String maxMb = env.get("TENSORBUFFER_POOL_MAX_MB");
        if (maxMb != null && !maxMb.isBlank()) {
            try {
                BufferPool.parseMaxCachedMegabytes(maxMb);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("TENSORBUFFER_POOL_MAX_MB " + e.getMessage());
            }
        }
    }
}
