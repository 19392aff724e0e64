package org.tensorbuffer.device;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Registry of the devices the backends on the class path provide, found with {@link ServiceLoader}.
 *
 * <p>{@code Devices.get("cpu")} returns the CPU device; {@code Devices.available()} lists every device and every
 * backend that could not start, with the reason. Devices are opened once and shared; the registry is thread-safe.
 */
public final class Devices {
    private static final Map<String, Device> OPEN = new ConcurrentHashMap<>();
    private static volatile List<DeviceProvider> providers;

    private Devices() {
    }

    /** The providers on the class path, in {@link ServiceLoader} order; a provider that fails to load is skipped. */
    public static List<DeviceProvider> providers() {
        List<DeviceProvider> p = providers;
        if (p == null) {
            synchronized (Devices.class) {
                p = providers;
                if (p == null) {
                    p = new ArrayList<>();
                    var it = ServiceLoader.load(DeviceProvider.class).iterator();
                    while (true) {
                        try {
                            if (!it.hasNext()) {
                                break;
                            }
                            p.add(it.next());
                        } catch (ServiceConfigurationError | LinkageError e) {
                            // A provider whose classes cannot load is as good as absent; probe() of the rest goes on.
                        }
                    }
                    providers = p = List.copyOf(p);
                }
            }
        }
        return p;
    }

    /**
     * Every device and every backend that could not start, with the reason. Never throws: a provider whose probe
     * fails is listed as unavailable with the error.
     */
    public static List<DeviceStatus> available() {
        List<DeviceStatus> all = new ArrayList<>();
        for (DeviceProvider p : providers()) {
            try {
                all.addAll(p.probe());
            } catch (RuntimeException | LinkageError e) {
                all.add(DeviceStatus.unavailable(p.name(), p.name(), e.toString()));
            }
        }
        return all;
    }

    /**
     * The providers in the order {@link #get} probes them for {@code id}: those whose {@link DeviceProvider#name()}
     * is the id's backend (the id up to a {@code ':'}) first, then the rest in {@link ServiceLoader} order. A found
     * device ends the search, so {@code get("cpu")} does not start the other backends (a Vulkan instance on lavapipe
     * costs about 0.4 s of CPU and a few hundred JIT compilations in a one-shot process).
     */
    static List<DeviceProvider> probeOrder(String id) {
        int colon = id.indexOf(':');
        String backend = colon < 0 ? id : id.substring(0, colon);
        List<DeviceProvider> all = providers();
        List<DeviceProvider> ordered = new ArrayList<>(all.size());
        for (DeviceProvider p : all) {
            if (p.name().equals(backend)) {
                ordered.add(p);
            }
        }
        for (DeviceProvider p : all) {
            if (!p.name().equals(backend)) {
                ordered.add(p);
            }
        }
        return ordered;
    }

    /**
     * The device with the given id, opened on first use. {@code cuda} means {@code cuda:0}.
     *
     * @throws DeviceUnavailableException naming the id and the reason if no provider offers it
     */
    public static Device get(String id) {
        Device d = OPEN.get(id);
        if (d != null) {
            return d;
        }
        synchronized (Devices.class) {
            d = OPEN.get(id);
            if (d != null) {
                return d;
            }
            StringBuilder reasons = new StringBuilder();
            StringBuilder known = new StringBuilder();
            for (DeviceProvider p : probeOrder(id)) {
                List<DeviceStatus> statuses;
                try {
                    statuses = p.probe();
                } catch (RuntimeException | LinkageError e) {
                    known.append(known.isEmpty() ? "" : ", ").append(p.name()).append(" (failed: ").append(e)
                            .append(')');
                    continue;
                }
                for (DeviceStatus s : statuses) {
                    boolean match = s.id().equals(id) || (s.id().equals(id + ":0"));
                    if (match && s.available()) {
                        d = p.open(s.id());
                        OPEN.put(id, d);
                        OPEN.put(s.id(), d);
                        return d;
                    }
                    if (match || s.backend().equals(id) || id.startsWith(s.backend() + ":")) {
                        reasons.append("; ").append(s.id()).append(": ")
                                .append(s.available() ? "available" : s.reason());
                    }
                    known.append(known.isEmpty() ? "" : ", ").append(s.id())
                            .append(s.available() ? "" : " (unavailable)");
                }
            }
            throw new DeviceUnavailableException("device '" + id + "' is unavailable" + (reasons.isEmpty()
                    ? ": no backend on the class path provides it (devices: " + known + ")" : reasons.toString()));
        }
    }
}
