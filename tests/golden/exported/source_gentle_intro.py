import torch

a = torch.tensor([2.0, 3.0], requires_grad=True)
b = torch.tensor([6.0, 4.0], requires_grad=True)
Q = (((a ** 3) * 3) - (b ** 2))
external_grad = torch.tensor([1.0, 1.0])
Q.backward(external_grad)
print((((a ** 2) * 9) == a.grad))
print(((b * -2) == b.grad))
