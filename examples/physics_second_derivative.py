import torch

# A physics-informed loss: how far u(x) = x^2 sin(x) is from solving u'' + u = 0
x = torch.linspace(0.0, 1.0, 5, requires_grad=True)
u = x ** 2 * torch.sin(x)

du = torch.autograd.grad(u, x, grad_outputs=torch.ones_like(u), create_graph=True)[0]
d2u = torch.autograd.grad(du, x, grad_outputs=torch.ones_like(du), create_graph=True)[0]

residual = d2u + u
print("u'  =", du)
print("u'' =", d2u)
print(f"max |residual| = {residual.abs().max().item():.4f}")

loss = (residual ** 2).mean()
loss.backward()
print(loss)
print(x.grad)
