"""Datasets: images (IDX MNIST / Fashion-MNIST, scikit-learn digits, image folders); text comes later."""
