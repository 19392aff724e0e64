package org.tensorbuffer.cuda;

import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;

import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;

/** {@link ModuleDriver} through JCuda's driver API binding. Stateless and thread-safe. */
final class JCudaModuleDriver implements ModuleDriver {
    static final JCudaModuleDriver INSTANCE = new JCudaModuleDriver();

    private JCudaModuleDriver() {
    }

    @Override
    public int moduleLoadData(long[] module, byte[] image) {
        CUmodule m = new CUmodule();
        int rc = cuModuleLoadData(m, image);
        module[0] = JCudaHandles.address(m);
        return rc;
    }

    @Override
    public int moduleGetFunction(long[] function, long module, String name) {
        CUfunction f = new CUfunction();
        int rc = cuModuleGetFunction(f, JCudaHandles.wrap(new CUmodule(), module), name);
        function[0] = JCudaHandles.address(f);
        return rc;
    }

    @Override
    public int launchKernel(long function, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
                            int sharedBytes, long stream, KernelArgs args) {
        return cuLaunchKernel(JCudaHandles.wrap(new CUfunction(), function), gridX, gridY, gridZ, blockX, blockY,
                blockZ, sharedBytes, JCudaHandles.wrap(new CUstream(), stream), args.toPointer(), null);
    }

    @Override
    public int moduleUnload(long module) {
        return cuModuleUnload(JCudaHandles.wrap(new CUmodule(), module));
    }
}
