/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet.example;

import android.Manifest;
import android.content.pm.PackageManager;
import android.os.Bundle;
import android.util.Log;
import android.widget.FrameLayout;
import android.widget.Toast;
import androidx.appcompat.app.AppCompatActivity;
import androidx.camera.core.CameraSelector;
import androidx.camera.core.ImageAnalysis;
import androidx.camera.core.ImageProxy;
import androidx.camera.core.Preview;
import androidx.camera.lifecycle.ProcessCameraProvider;
import androidx.camera.view.PreviewView;
import androidx.core.content.ContextCompat;
import com.google.common.util.concurrent.ListenableFuture;
import io.github.litehrnet.Image;
import io.github.litehrnet.OneEuroFilter;
import io.github.litehrnet.PixelFormat;
import io.github.litehrnet.Pose;
import io.github.litehrnet.PoseEstimator;
import io.github.litehrnet.PoseTracker;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * CameraX frames (upright RGBA) go to a {@link PoseTracker} with One-Euro smoothing; the poses are drawn over the
 * preview. No person detector: the tracker starts from the whole frame and follows that person; an app with a
 * detector passes its boxes to {@code tracker.update} whenever {@code tracker.needsBoxes()}.
 */
public final class MainActivity extends AppCompatActivity {
    private static final String TAG = "lite-hrnet";
    private static final String MODEL_ASSET = "pose.tflite";

    private final ExecutorService analysis = Executors.newSingleThreadExecutor();
    private PreviewView preview;
    private PoseOverlayView overlay;
    private PoseEstimator estimator; // used on the analysis thread only
    private PoseTracker tracker;

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        FrameLayout root = new FrameLayout(this);
        preview = new PreviewView(this);
        preview.setScaleType(PreviewView.ScaleType.FILL_CENTER);
        overlay = new PoseOverlayView(this);
        root.addView(preview);
        root.addView(overlay);
        setContentView(root);
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            startCamera();
        } else {
            requestPermissions(new String[] {Manifest.permission.CAMERA}, 1);
        }
    }

    @Override
    public void onRequestPermissionsResult(int requestCode, String[] permissions, int[] results) {
        super.onRequestPermissionsResult(requestCode, permissions, results);
        if (results.length > 0 && results[0] == PackageManager.PERMISSION_GRANTED) {
            startCamera();
        } else {
            Toast.makeText(this, "The camera permission is needed", Toast.LENGTH_LONG).show();
        }
    }

    /** The model is an asset; the native library opens files, so it is copied out once. */
    private File modelFile() throws IOException {
        File file = new File(getFilesDir(), MODEL_ASSET);
        if (!file.isFile()) {
            try (InputStream in = getAssets().open(MODEL_ASSET); OutputStream out = new FileOutputStream(file)) {
                byte[] chunk = new byte[1 << 16];
                for (int n; (n = in.read(chunk)) > 0; ) {
                    out.write(chunk, 0, n);
                }
            }
        }
        return file;
    }

    private void startCamera() {
        ListenableFuture<ProcessCameraProvider> future = ProcessCameraProvider.getInstance(this);
        future.addListener(() -> {
            try {
                ProcessCameraProvider provider = future.get();
                Preview previewUseCase = new Preview.Builder().build();
                previewUseCase.setSurfaceProvider(preview.getSurfaceProvider());
                ImageAnalysis analysisUseCase = new ImageAnalysis.Builder()
                        .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                        .setOutputImageRotationEnabled(true) // upright frames: the network expects upright people
                        .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                        .build();
                analysisUseCase.setAnalyzer(analysis, this::analyze);
                provider.unbindAll();
                provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, previewUseCase, analysisUseCase);
            } catch (Exception e) {
                Log.e(TAG, "camera start failed", e);
            }
        }, ContextCompat.getMainExecutor(this));
    }

    private void analyze(ImageProxy frame) {
        try {
            if (estimator == null) {
                estimator = new PoseEstimator(new PoseEstimator.Options().setModelPath(modelFile().getPath())
                        .setThreads(4));
                tracker = new PoseTracker(estimator, new PoseTracker.Options().setSmoothing(new OneEuroFilter()));
            }
            ImageProxy.PlaneProxy plane = frame.getPlanes()[0];
            Image image = Image.ofBuffer(plane.getBuffer(), frame.getWidth(), frame.getHeight(), PixelFormat.RGBA,
                    plane.getRowStride());
            double seconds = frame.getImageInfo().getTimestamp() / 1e9;
            List<Pose> poses = tracker.update(image, null, seconds);
            overlay.show(poses, estimator.skeleton(), frame.getWidth(), frame.getHeight());
        } catch (IOException | RuntimeException e) {
            Log.e(TAG, "pose estimation failed", e);
        } finally {
            frame.close();
        }
    }

    @Override
    protected void onDestroy() {
        super.onDestroy();
        analysis.execute(() -> {
            if (estimator != null) {
                estimator.close();
            }
        });
        analysis.shutdown();
    }
}
