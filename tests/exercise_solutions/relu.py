from exercises.relu import ReLU as Skeleton


class ReLU(Skeleton):
    def forward(self, x):
        self.mask = x > 0
        return super().forward(x)

    def backward(self, grad_out):
        return grad_out * self.mask
