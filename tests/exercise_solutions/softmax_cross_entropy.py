import numpy as np

from exercises.softmax_cross_entropy import SoftmaxCrossEntropy as Skeleton


class SoftmaxCrossEntropy(Skeleton):
    def backward(self):
        n = len(self.labels)
        grad = self.probs.copy()
        grad[np.arange(n), self.labels] -= 1
        return grad / n
